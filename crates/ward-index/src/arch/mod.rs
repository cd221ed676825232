//! CPU-specific popcount kernels, one file per instruction set, each beside the scalar twin.
//!
//! The SIMD kernels are the only code in the crate allowed `unsafe`: each sits behind a proof
//! type whose constructor checks the CPU features at run time, so holding a value proves that
//! calling its `#[target_feature]` functions is sound. [`crate::Kernel`] picks one and caches it.

pub(crate) mod scalar;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod x86_64;
