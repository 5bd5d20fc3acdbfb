//! The segmentation loss: BCE + soft Dice, optionally with the U-Net paper's per-pixel weights.

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// Smoothing term of the soft Dice loss.
const DICE_EPS: f32 = 1.0;

/// `BCE(logits, masks) + (1 − soft Dice)`: the Dice term keeps sparse foreground from
/// collapsing to "all background", the BCE term keeps gradients well-behaved.
///
/// # Shapes
/// - `logits`, `masks`: `[batch, 1, height, width]` → `[1]`
pub fn bce_dice_loss(logits: Tensor<4>, masks: Tensor<4>) -> Tensor<1> {
    weighted_bce_dice_loss(logits, masks, None)
}

/// [`bce_dice_loss`] with per-pixel weights on the BCE term (the U-Net paper's weight map):
/// `Σ w·BCE / Σ w + (1 − soft Dice)`; `None` is the unweighted mean.
///
/// # Shapes
/// - `logits`, `masks`, `weights`: `[batch, 1, height, width]` → `[1]`
pub fn weighted_bce_dice_loss(
    logits: Tensor<4>,
    masks: Tensor<4>,
    weights: Option<Tensor<4>>,
) -> Tensor<1> {
    // Numerically stable BCE with logits: max(x, 0) − x·y + log(1 + e^{−|x|}).
    let bce = logits.clone().clamp_min(0.0) - logits.clone() * masks.clone()
        + (logits.clone().abs().neg().exp() + 1.0).log();
    let bce = match weights {
        Some(w) => (bce * w.clone()).sum() / w.sum().clamp_min(1e-6),
        None => bce.mean(),
    };
    let probs = sigmoid(logits);
    let intersection = (probs.clone() * masks.clone()).sum();
    let total = probs.sum() + masks.sum();
    let dice = (intersection * 2.0 + DICE_EPS) / (total + DICE_EPS);
    bce + dice.neg() + 1.0
}
