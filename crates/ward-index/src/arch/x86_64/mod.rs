//! x86-64 kernels: AVX-512 with `VPOPCNTDQ` and AVX2 with a nibble lookup table for flat scans,
//! and `POPCNT` with prefetch hints for the multi-index probe loop.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod popcnt;
