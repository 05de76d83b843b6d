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
    /// 16 lanes, AVX-512 (F, BW, CD, DQ, VL); 4 rows × 16 columns per block (with 8 rows the
    /// compiler stopped inlining the intrinsics into the kernel: 20× slower).
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
    static PACK: RefCell<Pack> = const { RefCell::new(Pack { b: Vec::new(), tail: Vec::new() }) };
}

/// `c[i·n + j] = init[j] + Σ_p a(i, p) · b(p, j)` for `i < m`, `j < n`, `p < k` (`init` = zeros
/// when `None`), `c` row-major; `a` in rows or transposed (what [`Strided`] makes). The inner
/// loop keeps a fixed-size block of the output in registers ([`blocked`]).
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

/// Scratch for one product: `b` transposed into rows (the trainer's `dz · wᵀ`), and the last
/// columns of `b` that fill no vector, zero-padded to one.
struct Pack {
    b: Vec<f32>,
    tail: Vec<f32>,
}

/// The widest vector of any kernel, in lanes.
const MAX_W: usize = 16;

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

/// The product, `MR` rows × `NV` vectors of columns of accumulators at a time. Inlined into
/// each kernel's entry point, so that it is compiled with that kernel's instructions.
///
/// Nothing is packed but what must be: `a`'s elements are read where they are (a transposed
/// `a`, the trainer's `xᵀ · dz`, has a block's rows side by side), a row-major `b` too; a
/// transposed `b` is copied into rows once, and `b`'s last columns that fill no vector into a
/// zero-padded panel. Packing `a` and `b` per block of the output (the first version) cost as
/// much as the products themselves on the trainer's small matrices.
#[inline(always)]
fn blocked<L: Lanes, const MR: usize, const NV: usize>(
    simd: L,
    pack: &mut Pack,
    s: &Shape<'_>,
    c: &mut [f32],
) {
    let (m, n, k, w) = (s.m, s.n, s.k, L::W);
    debug_assert!(w <= MAX_W);
    assert!(s.a.cs == 1 || s.a.rs == 1, "gemm reads `a` in rows or transposed");
    if m == 0 || n == 0 {
        return;
    }
    let b = if s.b.cs == 1 {
        Strided::rows(s.b.data, s.b.rs)
    } else {
        pack.b.clear();
        pack.b.resize(k * n, 0.0);
        for j in 0..n {
            for (p, dst) in pack.b.chunks_exact_mut(n).enumerate() {
                dst[j] = s.b.at(p, j);
            }
        }
        Strided::rows(&pack.b, n)
    };
    let full = n - n % w;
    pack.tail.clear();
    if full < n {
        pack.tail.resize(k * w, 0.0);
        for (p, dst) in pack.tail.chunks_exact_mut(w).enumerate() {
            dst[..n - full].copy_from_slice(&b.data[p * b.rs + full..p * b.rs + n]);
        }
    }
    let tail = Strided::rows(&pack.tail, w);
    let t = Tiles { simd, a: s.a, b, tail, init: s.init, n, k, full };
    let mut i0 = 0;
    while i0 + MR <= m {
        t.rows::<MR, NV>(i0, c);
        i0 += MR;
    }
    while i0 < m {
        t.rows::<1, NV>(i0, c);
        i0 += 1;
    }
}

/// One product's operands as its tiles read them.
struct Tiles<'a, L> {
    simd: L,
    a: Strided<'a>,
    /// Row-major.
    b: Strided<'a>,
    /// `b`'s columns `full..n`, zero-padded to one vector, row-major.
    tail: Strided<'a>,
    init: Option<&'a [f32]>,
    n: usize,
    k: usize,
    /// The columns that fill whole vectors.
    full: usize,
}

impl<L: Lanes> Tiles<'_, L> {
    /// Rows `i0..i0 + MR` of the output.
    #[inline(always)]
    fn rows<const MR: usize, const NV: usize>(&self, i0: usize, c: &mut [f32]) {
        let (w, n) = (L::W, self.n);
        let mut j0 = 0;
        while j0 + NV * w <= self.full {
            let acc = self.tile::<MR, NV>(i0, self.b, j0, j0);
            for (r, row) in acc.iter().enumerate() {
                let out = &mut c[(i0 + r) * n + j0..][..NV * w];
                for (v, &x) in row.iter().enumerate() {
                    self.simd.store(x, &mut out[v * w..]);
                }
            }
            j0 += NV * w;
        }
        while j0 < self.full {
            let acc = self.tile::<MR, 1>(i0, self.b, j0, j0);
            for (r, row) in acc.iter().enumerate() {
                self.simd.store(row[0], &mut c[(i0 + r) * n + j0..]);
            }
            j0 += w;
        }
        if j0 < n {
            let acc = self.tile::<MR, 1>(i0, self.tail, 0, j0);
            for (r, row) in acc.iter().enumerate() {
                let mut tmp = [0f32; MAX_W];
                self.simd.store(row[0], &mut tmp);
                c[(i0 + r) * n + j0..(i0 + r + 1) * n].copy_from_slice(&tmp[..n - j0]);
            }
        }
    }

    /// The accumulators of rows `i0..i0 + MR` and `NV` vectors of columns, read from `b`'s
    /// column `jb` (the output's column `j0`).
    #[inline(always)]
    fn tile<const MR: usize, const NV: usize>(
        &self,
        i0: usize,
        b: Strided<'_>,
        jb: usize,
        j0: usize,
    ) -> [[L::V; NV]; MR] {
        let (simd, w, k, a) = (self.simd, L::W, self.k, self.a);
        let mut start = [simd.zero(); NV];
        if let Some(init) = self.init {
            let mut row = [0f32; MAX_W];
            for (v, x) in start.iter_mut().enumerate() {
                let cols = w.min(self.n - j0 - v * w);
                row[..cols].copy_from_slice(&init[j0 + v * w..][..cols]);
                *x = simd.load(&row);
            }
        }
        let mut acc = [start; MR];
        let (ld, bd) = (b.rs, &b.data[jb..]);
        // Row p of the block's columns of `b` (no closure or `from_fn` here: one not inlined
        // would be compiled without the kernel's instructions; measured 6× slower).
        macro_rules! b_at {
            ($p:expr) => {{
                let row = &bd[$p * ld..][..NV * w];
                let mut bv = [simd.zero(); NV];
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = simd.load(&row[v * w..]);
                }
                bv
            }};
        }
        if a.cs == 1 {
            let rows: [&[f32]; MR] = std::array::from_fn(|r| &a.data[(i0 + r) * a.rs..][..k]);
            for p in 0..k {
                let bv = b_at!(p);
                for (acc, row) in acc.iter_mut().zip(&rows) {
                    let av = simd.splat(row[p]);
                    for (x, &b) in acc.iter_mut().zip(&bv) {
                        *x = simd.mul_add(*x, av, b);
                    }
                }
            }
        } else {
            // A transposed `a` (`rs` = 1): the block's rows of column p are side by side.
            let column = &a.data[i0..];
            for p in 0..k {
                let bv = b_at!(p);
                let ap = &column[p * a.cs..][..MR];
                for (acc, &av) in acc.iter_mut().zip(ap) {
                    let av = simd.splat(av);
                    for (x, &b) in acc.iter_mut().zip(&bv) {
                        *x = simd.mul_add(*x, av, b);
                    }
                }
            }
        }
        acc
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
            let lanes: [f32; 8] = src[..8].try_into().expect("8 lanes");
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
            let lanes: [f32; 16] = src[..16].try_into().expect("16 lanes");
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
        V4::try_new().map(|simd| simd.vectorize(|| blocked::<V4, 4, 1>(simd, pack, s, c))).is_some()
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
            (9, 47, 11),
            (64, 28, 32),
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
                // The same operands stored transposed (the trainer's xᵀ·dz and dz·wᵀ).
                let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
                let bt: Vec<f32> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
                let layouts = [
                    (Strided::rows(&a, k), Strided::rows(&b, n)),
                    (Strided::transposed(&at, m), Strided::rows(&b, n)),
                    (Strided::rows(&a, k), Strided::transposed(&bt, k)),
                    (Strided::transposed(&at, m), Strided::transposed(&bt, k)),
                ];
                for kernel in Kernel::available() {
                    for (layout, &(sa, sb)) in layouts.iter().enumerate() {
                        let mut c = vec![f32::NAN; m * n];
                        let init = with_init.then_some(&init[..]);
                        kernel.with(|| gemm(m, n, k, sa, sb, init, &mut c));
                        let got: Vec<u32> = c.iter().map(|v| v.to_bits()).collect();
                        assert!(
                            got == want,
                            "{kernel:?} differs from the definition for {m}×{n}×{k}, layout {layout}"
                        );
                    }
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
