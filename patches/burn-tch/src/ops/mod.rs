mod activation;
mod base;
mod bool_tensor;
mod int_tensor;
mod module;
#[cfg(burn_tch_native_backward)]
mod native;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
