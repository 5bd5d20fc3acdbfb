//! Helpers shared by the unit tests of every architecture.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor};

/// The device the tests run on: Burn's default CPU backend.
pub(crate) fn device() -> Device {
    Device::flex()
}

struct MissingGrads<'a> {
    grads: &'a Gradients,
    path: Vec<String>,
    missing: Vec<String>,
    seen: usize,
}

impl ModuleVisitor for MissingGrads<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if crate::params::is_buffer(&self.path) {
            return;
        }
        self.seen += 1;
        let grad = param.val().grad(self.grads);
        let ok = grad
            .map(|g| {
                let finite: bool = g.clone().is_finite().all().into_scalar();
                finite
            })
            .unwrap_or(false);
        if !ok {
            self.missing.push(self.path.join("."));
        }
    }
}

/// Fails unless every float parameter of `module` received a finite gradient.
pub(crate) fn assert_all_params_get_grads<M: Module>(module: &M, grads: &Gradients) {
    let mut visitor = MissingGrads {
        grads,
        path: Vec::new(),
        missing: Vec::new(),
        seen: 0,
    };
    module.visit(&mut visitor);
    assert!(visitor.seen > 0, "module has no parameters");
    assert!(
        visitor.missing.is_empty(),
        "{} of {} parameters got no finite gradient: {:?}",
        visitor.missing.len(),
        visitor.seen,
        visitor.missing
    );
}
