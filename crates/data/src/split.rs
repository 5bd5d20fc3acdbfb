//! Seeded shuffling, train/validation splits and index subsets of any dataset.

use std::marker::PhantomData;

use burn::data::dataset::{Dataset, DatasetError};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::DataRng;
use crate::error::{DataError, Result};

/// `0..len` in an order fixed by `seed`.
pub fn shuffled_indices(len: usize, seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    indices.shuffle(&mut DataRng::seed_from_u64(seed));
    indices
}

/// Splits `0..len` into training and validation indices, `val_fraction` of them (at least one
/// item each) going to validation, shuffled by `seed`.
pub fn train_val_split(
    len: usize,
    val_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(val_fraction > 0.0 && val_fraction < 1.0) {
        return Err(DataError::invalid(
            "validation fraction",
            format!("{val_fraction} (must be in (0, 1))"),
        ));
    }
    if len < 2 {
        return Err(DataError::invalid(
            "dataset size",
            format!("{len} items cannot be split (need at least 2)"),
        ));
    }
    let val = ((len as f64 * val_fraction).round() as usize).clamp(1, len - 1);
    let mut indices = shuffled_indices(len, seed);
    let train = indices.split_off(val);
    Ok((train, indices))
}

/// The items of `inner` at `indices`, in that order.
pub struct Subset<D, I> {
    inner: D,
    indices: Vec<usize>,
    _item: PhantomData<fn() -> I>,
}

impl<D: Dataset<I>, I> Subset<D, I> {
    /// A view of `inner` through `indices` (each below `inner.len()`).
    pub fn new(inner: D, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= inner.len()) {
            return Err(DataError::invalid(
                "subset index",
                format!("{bad} past the end ({} items)", inner.len()),
            ));
        }
        Ok(Self {
            inner,
            indices,
            _item: PhantomData,
        })
    }
}

impl<D: Dataset<I>, I: Send + Sync> Dataset<I> for Subset<D, I> {
    fn get(&self, index: usize) -> std::result::Result<I, DatasetError> {
        let inner = self.indices.get(index).ok_or_else(|| {
            DatasetError::new(DataError::invalid(
                "index",
                format!("{index} past the end ({} items)", self.indices.len()),
            ))
        })?;
        self.inner.get(*inner)
    }

    fn len(&self) -> usize {
        self.indices.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::InMemDataset;

    #[test]
    fn splits_are_disjoint_complete_and_seeded() {
        let (train, val) = train_val_split(100, 0.2, 7).unwrap();
        assert_eq!((train.len(), val.len()), (80, 20));
        let mut all: Vec<_> = train.iter().chain(&val).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(train_val_split(100, 0.2, 7).unwrap(), (train.clone(), val));
        assert_ne!(train_val_split(100, 0.2, 8).unwrap().0, train);
        assert!(train_val_split(100, 1.0, 7).is_err());
        assert!(train_val_split(1, 0.5, 7).is_err());
        assert_eq!(train_val_split(3, 0.01, 0).unwrap().1.len(), 1);
    }

    #[test]
    fn subset_reads_through_indices() {
        let data = InMemDataset::new(vec![10, 11, 12, 13]);
        let subset = Subset::new(data, vec![3, 0]).unwrap();
        assert_eq!(subset.len(), 2);
        assert_eq!(subset.get(0).unwrap(), 13);
        assert!(subset.get(2).is_err());
        assert!(Subset::new(InMemDataset::new(vec![1]), vec![1]).is_err());
    }
}
