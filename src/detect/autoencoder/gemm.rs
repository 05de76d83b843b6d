//! The trainer's matrix product: one register-blocked algorithm ([`gemm`]) compiled for several
//! vector widths, the widest the processor has picked at run time ([`Kernel`]).
//!
//! Every width computes every output element the same way: `init[j]` (or zero), then
//! `+ a(i, p) · b(p, j)` for `p = 0, 1, …` in order, each product rounded before its sum
//! (never a fused multiply-add). Vectors run across output columns, never across the summed
//! dimension, so the 4-lane kernel (SSE natively, simd128 in the page), the 8-lane AVX2 one and
//! the 16-lane AVX-512 one give the same bits, and the page and the CLI flag the same packets.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use wide::f32x4;

/// A matrix operand read through strides: element (i, j) is `data[i·rs + j·cs]`, so a
/// transposed matrix costs nothing.
#[derive(Clone, Copy)]
pub(super) struct Strided<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Strided { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Strided { data, rs: 1, cs: cols }
    }
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// A vector width of the product, as `netsieve bench` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// 4 lanes: SSE natively, simd128 in the page; 4 rows × 8 columns per block.
    Lanes4,
    /// 8 lanes, AVX2 (x86-64 processors since 2013); 4 rows × 16 columns per block.
    Avx2,
    /// 16 lanes, AVX-512 (F, BW, CD, DQ, VL); 8 rows × 16 columns per block.
    Avx512,
}

impl Kernel {
    /// The kernels this processor can run, narrowest first.
    pub fn available() -> Vec<Kernel> {
        #[cfg(target_arch = "x86_64")]
        {
            let wide = [(Kernel::Avx2, x86::avx2_available()), (Kernel::Avx512, x86::avx512_available())];
            std::iter::once(Kernel::Lanes4).chain(wide.into_iter().filter(|w| w.1).map(|w| w.0)).collect()
        }
        #[cfg(not(target_arch = "x86_64"))]
        vec![Kernel::Lanes4]
    }

    /// What training uses unless [`Kernel::with`] says: the widest this processor has. On the
    /// 2-core machine (Zen 4, which runs a 512-bit operation as two 256-bit halves) the seed
    /// preset's training took 10.1 s with 4 lanes, 5.5 s with AVX2 and 4.9 s with AVX-512 in one
    /// sitting (`netsieve bench`).
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| Kernel::available().last().copied().unwrap_or(Kernel::Lanes4))
    }

    /// The kernel the products on this thread use now.
    pub fn current() -> Kernel {
        CHOSEN.get().unwrap_or_else(Kernel::best)
    }

    /// Runs `f` with this thread's products on `self` (for benchmarks and the tests that hold
    /// the kernels to the same bits). A kernel this processor lacks is not used: the best is.
    pub fn with<R>(self, f: impl FnOnce() -> R) -> R {
        let chosen = Kernel::available().contains(&self).then_some(self);
        let before = CHOSEN.replace(chosen);
        let out = f();
        CHOSEN.set(before);
        out
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Lanes4 => "4-lane",
            Kernel::Avx2 => "AVX2",
            Kernel::Avx512 => "AVX-512",
        }
    }
}

thread_local! {
    static CHOSEN: Cell<Option<Kernel>> = const { Cell::new(None) };
    /// Packing buffers, reused: a training run makes millions of small products.
    static PACK: RefCell<Pack> = const { RefCell::new(Pack { a: Vec::new(), b: Vec::new() }) };
}

/// `c[i·n + j] = init[j] + Σ_p a(i, p) · b(p, j)` for `i < m`, `j < n`, `p < k` (`init` = zeros
/// when `None`), `c` row-major. Each block of `a`'s rows is packed once, and `b`'s columns
/// where they are not a full block of a row-major matrix, so the inner loop works on
/// fixed-size blocks in registers.
pub(super) fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: Strided<'_>,
    init: Option<&[f32]>,
    c: &mut [f32],
) {
    let shape = Shape { m, n, k, a, b, init };
    PACK.with_borrow_mut(|pack| {
        let done = match Kernel::current() {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => x86::gemm_avx2(pack, &shape, c),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => x86::gemm_avx512(pack, &shape, c),
            _ => false,
        };
        if !done {
            blocked::<Four, 4, 2>(Four, pack, &shape, c);
        }
    });
}

/// Runs `f` compiled for AVX2 where the current kernel is a wide one, so that the element-wise
/// loops it inlines (activations, gradients, Adam) run 8 lanes wide. Each element still goes
/// through the same operations (no loop here sums across elements), so the bits are those of
/// any other width.
#[inline(always)]
pub(super) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    match Kernel::current() {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 => x86::with_avx2(f),
        _ => f(),
    }
}

/// The operands of one product.
struct Shape<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'a>,
    b: Strided<'a>,
    init: Option<&'a [f32]>,
}

/// Packed panels of `b` (`k` rows of one block of columns each) and of a block of `a`'s rows.
struct Pack {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// The widest block of columns of any kernel.
const MAX_NR: usize = 32;

/// A way to compute on vectors of `W` lanes, and its vector type. `mul_add` is `acc + a·b`
/// with the product rounded first.
trait Lanes: Copy {
    type V: Copy;
    const W: usize;
    fn zero(self) -> Self::V;
    fn splat(self, v: f32) -> Self::V;
    /// The first `W` values of `src`.
    fn load(self, src: &[f32]) -> Self::V;
    fn mul_add(self, acc: Self::V, a: Self::V, b: Self::V) -> Self::V;
    /// Into the first `W` values of `dst`.
    fn store(self, v: Self::V, dst: &mut [f32]);
}

/// Four lanes with the `wide` crate: SSE natively, simd128 in the page.
#[derive(Clone, Copy)]
struct Four;

impl Lanes for Four {
    type V = f32x4;
    const W: usize = 4;
    #[inline(always)]
    fn zero(self) -> f32x4 {
        f32x4::ZERO
    }
    #[inline(always)]
    fn splat(self, v: f32) -> f32x4 {
        f32x4::splat(v)
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> f32x4 {
        f32x4::new([src[0], src[1], src[2], src[3]])
    }
    #[inline(always)]
    fn mul_add(self, acc: f32x4, a: f32x4, b: f32x4) -> f32x4 {
        acc + a * b
    }
    #[inline(always)]
    fn store(self, v: f32x4, dst: &mut [f32]) {
        dst[..4].copy_from_slice(&v.to_array());
    }
}

/// The product with `MR` rows × `NV` vectors of columns of accumulators. Inlined into each
/// kernel's entry point, so that it is compiled with that kernel's instructions.
#[inline(always)]
fn blocked<L: Lanes, const MR: usize, const NV: usize>(
    simd: L,
    pack: &mut Pack,
    s: &Shape<'_>,
    c: &mut [f32],
) {
    let (m, n, k) = (s.m, s.n, s.k);
    let w = L::W;
    let nr = NV * w;
    debug_assert!(nr <= MAX_NR);
    let blocks = n.div_ceil(nr);
    // A row-major `b`'s full blocks of columns are read where they are; the rest is packed.
    let in_place = if s.b.cs == 1 { n / nr } else { 0 };
    pack.b.clear();
    pack.b.resize((blocks - in_place) * k * nr, 0.0);
    for (pb, panel) in pack.b.chunks_exact_mut(k * nr).enumerate() {
        let j0 = (in_place + pb) * nr;
        let cols = nr.min(n - j0);
        if s.b.cs == 1 {
            for (p, dst) in panel.chunks_exact_mut(nr).enumerate() {
                dst[..cols].copy_from_slice(&s.b.data[p * s.b.rs + j0..][..cols]);
            }
        } else if s.b.rs == 1 {
            // A transposed matrix: each column is contiguous.
            for q in 0..cols {
                let column = &s.b.data[(j0 + q) * s.b.cs..][..k];
                for (dst, &v) in panel.chunks_exact_mut(nr).zip(column) {
                    dst[q] = v;
                }
            }
        } else {
            for (p, dst) in panel.chunks_exact_mut(nr).enumerate() {
                for (q, v) in dst[..cols].iter_mut().enumerate() {
                    *v = s.b.at(p, j0 + q);
                }
            }
        }
    }
    pack.a.clear();
    pack.a.resize(k * MR, 0.0);
    for i0 in (0..m).step_by(MR) {
        let rows = MR.min(m - i0);
        if s.a.rs == 1 {
            // A transposed matrix: the block's rows of one column are contiguous.
            for (p, dst) in pack.a.chunks_exact_mut(MR).enumerate() {
                dst[..rows].copy_from_slice(&s.a.data[i0 + p * s.a.cs..][..rows]);
                dst[rows..].fill(0.0);
            }
        } else if s.a.cs == 1 {
            for r in 0..MR {
                if r < rows {
                    let row = &s.a.data[(i0 + r) * s.a.rs..][..k];
                    for (dst, &v) in pack.a.chunks_exact_mut(MR).zip(row) {
                        dst[r] = v;
                    }
                } else {
                    pack.a.chunks_exact_mut(MR).for_each(|dst| dst[r] = 0.0);
                }
            }
        } else {
            for (p, dst) in pack.a.chunks_exact_mut(MR).enumerate() {
                for (r, v) in dst.iter_mut().enumerate() {
                    *v = if r < rows { s.a.at(i0 + r, p) } else { 0.0 };
                }
            }
        }
        for jb in 0..blocks {
            let j0 = jb * nr;
            let cols = nr.min(n - j0);
            // Row p of the block's columns of `b` starts at `panel[p · stride]`.
            let (panel, stride) = if jb < in_place {
                (&s.b.data[j0..], s.b.rs)
            } else {
                (&pack.b[(jb - in_place) * k * nr..][..k * nr], nr)
            };
            let start: [L::V; NV] = match s.init {
                Some(init) => {
                    let mut row = [0f32; MAX_NR];
                    row[..cols].copy_from_slice(&init[j0..j0 + cols]);
                    std::array::from_fn(|v| simd.load(&row[v * w..]))
                }
                None => [simd.zero(); NV],
            };
            let mut acc = [start; MR];
            for (ap, bp) in pack.a.chunks_exact(MR).zip(panel.chunks(stride)) {
                let bp = &bp[..nr];
                let bv: [L::V; NV] = std::array::from_fn(|v| simd.load(&bp[v * w..]));
                for (row, &av) in acc.iter_mut().zip(ap) {
                    let av = simd.splat(av);
                    for (x, &b) in row.iter_mut().zip(&bv) {
                        *x = simd.mul_add(*x, av, b);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate().take(rows) {
                let out = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + cols];
                if cols == nr {
                    for (v, &x) in row.iter().enumerate() {
                        simd.store(x, &mut out[v * w..]);
                    }
                } else {
                    let mut tmp = [0f32; MAX_NR];
                    for (v, &x) in row.iter().enumerate() {
                        simd.store(x, &mut tmp[v * w..]);
                    }
                    out.copy_from_slice(&tmp[..cols]);
                }
            }
        }
    }
}

/// The wide kernels, through `pulp`'s safe wrappers of the x86 intrinsics: a `V3` / `V4` token
/// exists only where the processor has AVX2 / AVX-512, and `vectorize` compiles the product
/// for those instructions.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{__m256, __m512};

    use pulp::x86::{V3, V4};

    use super::{Lanes, Pack, Shape, blocked};

    pub(super) fn avx2_available() -> bool {
        V3::is_available()
    }

    pub(super) fn avx512_available() -> bool {
        V4::is_available()
    }

    impl Lanes for V3 {
        type V = __m256;
        const W: usize = 8;
        #[inline(always)]
        fn zero(self) -> __m256 {
            self.avx._mm256_setzero_ps()
        }
        #[inline(always)]
        fn splat(self, v: f32) -> __m256 {
            self.avx._mm256_set1_ps(v)
        }
        #[inline(always)]
        fn load(self, src: &[f32]) -> __m256 {
            let lanes: [f32; 8] = std::array::from_fn(|i| src[i]);
            pulp::cast(lanes)
        }
        #[inline(always)]
        fn mul_add(self, acc: __m256, a: __m256, b: __m256) -> __m256 {
            self.avx._mm256_add_ps(acc, self.avx._mm256_mul_ps(a, b))
        }
        #[inline(always)]
        fn store(self, v: __m256, dst: &mut [f32]) {
            let lanes: [f32; 8] = pulp::cast(v);
            dst[..8].copy_from_slice(&lanes);
        }
    }

    impl Lanes for V4 {
        type V = __m512;
        const W: usize = 16;
        #[inline(always)]
        fn zero(self) -> __m512 {
            self.avx512f._mm512_setzero_ps()
        }
        #[inline(always)]
        fn splat(self, v: f32) -> __m512 {
            self.avx512f._mm512_set1_ps(v)
        }
        #[inline(always)]
        fn load(self, src: &[f32]) -> __m512 {
            let lanes: [f32; 16] = std::array::from_fn(|i| src[i]);
            pulp::cast(lanes)
        }
        #[inline(always)]
        fn mul_add(self, acc: __m512, a: __m512, b: __m512) -> __m512 {
            self.avx512f._mm512_add_ps(acc, self.avx512f._mm512_mul_ps(a, b))
        }
        #[inline(always)]
        fn store(self, v: __m512, dst: &mut [f32]) {
            let lanes: [f32; 16] = pulp::cast(v);
            dst[..16].copy_from_slice(&lanes);
        }
    }

    #[inline(always)]
    pub(super) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
        match V3::try_new() {
            Some(simd) => simd.vectorize(f),
            None => f(),
        }
    }

    /// With AVX2 (false where the processor lacks it: nothing was computed).
    pub(super) fn gemm_avx2(pack: &mut Pack, s: &Shape<'_>, c: &mut [f32]) -> bool {
        V3::try_new().map(|simd| simd.vectorize(|| blocked::<V3, 4, 2>(simd, pack, s, c))).is_some()
    }

    /// With AVX-512 (false where the processor lacks it).
    pub(super) fn gemm_avx512(pack: &mut Pack, s: &Shape<'_>, c: &mut [f32]) -> bool {
        V4::try_new().map(|simd| simd.vectorize(|| blocked::<V4, 8, 1>(simd, pack, s, c))).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with every exponent a training run meets, signs mixed, zeros and subnormals.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                match i % 17 {
                    0 => 0.0,
                    1 => -1e-39,
                    _ => (x as f32 / u32::MAX as f32 - 0.5) * 10f32.powi((x % 9) as i32 - 4),
                }
            })
            .collect()
    }

    #[test]
    fn gemm_matches_the_definition_for_odd_shapes_and_strides() {
        for kernel in Kernel::available() {
            let (m, n, k) = (6, 19, 5);
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut c = vec![0.0f32; m * n];
            let init = vec![1.0f32; n];
            kernel.with(|| gemm(m, n, k, Strided::rows(&a, k), Strided::rows(&b, n), Some(&init), &mut c));
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                    assert!((c[i * n + j] - want).abs() < 1e-5, "{kernel:?} {i},{j}");
                }
            }
            // a transposed through its strides: aᵀ is k × m, read as m × k.
            let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
            let mut c2 = vec![0.0f32; m * n];
            kernel.with(|| gemm(m, n, k, Strided::transposed(&at, m), Strided::rows(&b, n), None, &mut c2));
            for (x, y) in c.iter().zip(&c2) {
                assert!((x - 1.0 - y).abs() < 1e-5, "{kernel:?}");
            }
        }
    }

    /// Each output element is `init + a·b + a·b + …` summed in order with separate roundings:
    /// the scalar definition, bit for bit, in every kernel and for every shape the trainer
    /// uses (and odd ones).
    #[test]
    fn every_kernel_gives_the_scalar_definitions_bits() {
        let shapes = [
            (32, 64, 28),
            (32, 28, 64),
            (28, 64, 32),
            (10, 32, 32),
            (32, 10, 32),
            (1, 1, 1),
            (7, 33, 3),
            (17, 5, 9),
        ];
        for (m, n, k) in shapes {
            let a = values(m * k, (m * 31 + n) as u32);
            let b = values(k * n, (k * 7 + m) as u32);
            let init = values(n, 5);
            for with_init in [false, true] {
                let want: Vec<u32> = (0..m * n)
                    .map(|x| {
                        let (i, j) = (x / n, x % n);
                        let mut s = if with_init { init[j] } else { 0.0 };
                        for p in 0..k {
                            s += a[i * k + p] * b[p * n + j];
                        }
                        s.to_bits()
                    })
                    .collect();
                for kernel in Kernel::available() {
                    let mut c = vec![f32::NAN; m * n];
                    let init = with_init.then_some(&init[..]);
                    kernel.with(|| gemm(m, n, k, Strided::rows(&a, k), Strided::rows(&b, n), init, &mut c));
                    let got: Vec<u32> = c.iter().map(|v| v.to_bits()).collect();
                    assert!(got == want, "{kernel:?} differs from the definition for {m}×{n}×{k}");
                }
            }
        }
    }

    #[test]
    fn a_kernel_is_chosen_per_thread_and_restored() {
        let best = Kernel::best();
        assert_eq!(Kernel::current(), best);
        Kernel::Lanes4.with(|| assert_eq!(Kernel::current(), Kernel::Lanes4));
        assert_eq!(Kernel::current(), best);
    }
}
