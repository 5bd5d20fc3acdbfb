//! A deterministic parallel data loader: the same batches, in the same order, with the same
//! augmentation, whatever the number of worker threads.
//!
//! Burn's multi-threaded loader splits the data between its workers and hands batches on as
//! they finish, so both the batches' contents and their order depend on the worker count and
//! on thread timing. Here every epoch's order is drawn from the seed and the epoch number,
//! batch `k` is always built by worker `k mod workers` with a random stream drawn from the
//! seed, the epoch and `k`, and the batches are handed on in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::transform::PartialDataset;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::Device;

use crate::split::shuffled_indices;

/// Batches each worker may build ahead of the one being consumed.
pub const PREFETCH_PER_WORKER: usize = 2;

/// A batcher whose randomness comes from the random stream it is given: the same items and the
/// same stream give the same batch.
pub trait SeededBatcher<I, O>: Send + Sync {
    /// The batch of `items` on `device`, augmentations drawn from `stream`.
    fn batch_seeded(&self, items: Vec<I>, stream: u64, device: &Device) -> O;
}

/// SplitMix64's finaliser: a well-mixed 64-bit value of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of batch `batch` of epoch `epoch` (from 0) under `seed`.
pub fn batch_stream(seed: u64, epoch: usize, batch: usize) -> u64 {
    mix(mix(mix(seed) ^ epoch as u64) ^ batch as u64)
}

/// Loads batches of `dataset` through `batcher` on `workers` threads, deterministically.
pub struct OrderedDataLoader<I, O> {
    dataset: Arc<dyn Dataset<I>>,
    batcher: Arc<dyn SeededBatcher<I, O>>,
    batch_size: usize,
    workers: usize,
    shuffle: bool,
    seed: u64,
    device: Device,
    /// Epochs iterated so far (the next `iter()` is this epoch).
    epoch: Arc<AtomicUsize>,
}

impl<I, O> OrderedDataLoader<I, O>
where
    I: Send + Sync + Clone + 'static,
    O: Send + 'static,
{
    /// A loader of `batch_size` batches (the last one smaller) on `workers` threads (at least
    /// one); with `shuffle`, each epoch's order is drawn from `seed` and the epoch number.
    pub fn new(
        dataset: Arc<dyn Dataset<I>>,
        batcher: Arc<dyn SeededBatcher<I, O>>,
        batch_size: usize,
        workers: usize,
        shuffle: bool,
        seed: u64,
        device: Device,
    ) -> Self {
        Self {
            dataset,
            batcher,
            batch_size: batch_size.max(1),
            workers: workers.max(1),
            shuffle,
            seed,
            device,
            epoch: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts at epoch `epoch` (from 0): a resumed run draws what the uninterrupted run would.
    pub fn starting_at_epoch(self, epoch: usize) -> Self {
        self.epoch.store(epoch, Ordering::SeqCst);
        self
    }

    /// The item order of `epoch`.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let len = self.dataset.len();
        if self.shuffle {
            shuffled_indices(len, mix(self.seed ^ mix(epoch as u64)))
        } else {
            (0..len).collect()
        }
    }

    fn with(&self, dataset: Arc<dyn Dataset<I>>, device: Device, epoch: Arc<AtomicUsize>) -> Self {
        Self {
            dataset,
            batcher: self.batcher.clone(),
            batch_size: self.batch_size,
            workers: self.workers,
            shuffle: self.shuffle,
            seed: self.seed,
            device,
            epoch,
        }
    }
}

impl<I, O> DataLoader<O> for OrderedDataLoader<I, O>
where
    I: Send + Sync + Clone + 'static,
    O: Send + 'static,
{
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        let order = self.order(epoch);
        let total = order.len();
        let batches: Arc<Vec<Vec<usize>>> = Arc::new(
            order
                .chunks(self.batch_size)
                .map(<[usize]>::to_vec)
                .collect(),
        );
        let workers = self.workers.min(batches.len()).max(1);
        let receivers = (0..workers)
            .map(|worker| {
                let (sender, receiver) = sync_channel(PREFETCH_PER_WORKER);
                let (dataset, batcher, batches, device, seed) = (
                    self.dataset.clone(),
                    self.batcher.clone(),
                    batches.clone(),
                    self.device.clone(),
                    self.seed,
                );
                std::thread::Builder::new()
                    .name(format!("skipnet-loader-{worker}"))
                    .spawn(move || {
                        for k in (worker..batches.len()).step_by(workers) {
                            let batch = batches[k]
                                .iter()
                                .map(|&i| dataset.get(i))
                                .collect::<Result<Vec<I>, DatasetError>>()
                                .map(|items| {
                                    let count = items.len();
                                    let stream = batch_stream(seed, epoch, k);
                                    (batcher.batch_seeded(items, stream, &device), count)
                                });
                            let failed = batch.is_err();
                            // The iterator was dropped: stop.
                            if sender.send(batch).is_err() || failed {
                                break;
                            }
                        }
                    })
                    .expect("spawn a data-loading thread");
                receiver
            })
            .collect();
        Box::new(OrderedIterator {
            receivers,
            next: 0,
            batches: batches.len(),
            items_done: 0,
            items_total: total,
        })
    }

    fn num_items(&self) -> usize {
        self.dataset.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<O>> {
        Arc::new(self.with(self.dataset.clone(), device.clone(), self.epoch.clone()))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<O>> {
        let part: Arc<dyn Dataset<I>> =
            Arc::new(PartialDataset::new(self.dataset.clone(), start, end));
        let epoch = Arc::new(AtomicUsize::new(self.epoch.load(Ordering::SeqCst)));
        let mut sliced = self.with(part, self.device.clone(), epoch);
        // Each device's share draws its own random streams.
        sliced.seed = self.seed ^ mix(start as u64);
        Arc::new(sliced)
    }
}

/// Hands on batch 0, 1, 2… from the worker that builds each.
struct OrderedIterator<O> {
    receivers: Vec<Receiver<Result<(O, usize), DatasetError>>>,
    next: usize,
    batches: usize,
    items_done: usize,
    items_total: usize,
}

impl<O> Iterator for OrderedIterator<O> {
    type Item = Result<O, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batches {
            return None;
        }
        let worker = self.next % self.receivers.len();
        self.next += 1;
        match self.receivers[worker].recv() {
            Ok(Ok((batch, count))) => {
                self.items_done += count;
                Some(Ok(batch))
            }
            Ok(Err(error)) => {
                self.next = self.batches;
                Some(Err(error))
            }
            Err(_) => {
                self.next = self.batches;
                Some(Err(DatasetError::new(crate::DataError::invalid(
                    "data loading",
                    "a data-loading thread stopped before its batch",
                ))))
            }
        }
    }
}

impl<O> DataLoaderIterator<O> for OrderedIterator<O> {
    fn progress(&self) -> Progress {
        Progress::new(self.items_done, self.items_total, None)
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataset::InMemDataset;

    use super::*;

    /// Records what it was given: the items and the stream.
    struct Record;

    impl SeededBatcher<usize, (Vec<usize>, u64)> for Record {
        fn batch_seeded(&self, items: Vec<usize>, stream: u64, _: &Device) -> (Vec<usize>, u64) {
            (items, stream)
        }
    }

    fn loader(workers: usize, shuffle: bool) -> OrderedDataLoader<usize, (Vec<usize>, u64)> {
        OrderedDataLoader::new(
            Arc::new(InMemDataset::new((0..23).collect())),
            Arc::new(Record),
            4,
            workers,
            shuffle,
            7,
            Device::flex(),
        )
    }

    fn epoch(loader: &OrderedDataLoader<usize, (Vec<usize>, u64)>) -> Vec<(Vec<usize>, u64)> {
        loader.iter().map(|b| b.unwrap()).collect()
    }

    #[test]
    fn any_worker_count_gives_the_same_batches_in_the_same_order() {
        let one = loader(1, true);
        let three = loader(3, true);
        let first = epoch(&one);
        assert_eq!(first, epoch(&three));
        assert_eq!(first.len(), 6, "23 items in batches of 4");
        let mut seen: Vec<usize> = first.iter().flat_map(|(items, _)| items.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
        // The next epoch is another order and other streams, again the same for both.
        let second = epoch(&one);
        assert_ne!(first, second);
        assert_eq!(second, epoch(&three));
        // A loader started at epoch 1 (a resumed run) draws epoch 1.
        assert_eq!(epoch(&loader(2, true).starting_at_epoch(1)), second);
        // Without shuffling the order is the dataset's.
        assert_eq!(epoch(&loader(3, false))[0].0, [0, 1, 2, 3]);
    }
}
