//! Counting trainable parameters.
//!
//! Burn's `Module::num_params` also counts buffers such as batch-norm running statistics (they
//! are visited like parameters). torchvision and the papers count only trainable weights, so the
//! zoo reports those.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Field names of Burn modules that hold buffers, not trainable parameters.
const BUFFER_FIELDS: [&str; 2] = ["running_mean", "running_var"];

/// Whether the parameter at `path` (module field names from the root) is a buffer.
pub fn is_buffer(path: &[String]) -> bool {
    path.last()
        .is_some_and(|name| BUFFER_FIELDS.contains(&name.as_str()))
}

/// Visits every trainable float parameter with its dotted path (`layer1.0.conv1.weight`).
pub fn visit_trainable<M: Module>(module: &M, mut f: impl FnMut(&str, &burn::tensor::Shape)) {
    struct Visitor<'a, F> {
        path: Vec<String>,
        f: &'a mut F,
    }
    impl<F> ModuleVisitor for Visitor<'_, F>
    where
        F: FnMut(&str, &burn::tensor::Shape),
    {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !is_buffer(&self.path) {
                (self.f)(&self.path.join("."), &param.shape());
            }
        }
    }
    module.visit(&mut Visitor {
        path: Vec::new(),
        f: &mut f,
    });
}

/// Number of trainable parameters (weights and biases; batch-norm running statistics excluded),
/// the number torchvision and the papers report.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut total = 0;
    visit_trainable(module, |_, shape| total += shape.num_elements());
    total
}
