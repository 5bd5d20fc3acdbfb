//! In-memory images and the decoding of PNG, JPEG and TIFF files of any bit depth.

use std::path::Path;

use crate::error::{DataError, Result, read_file};

/// An 8-bit image, channels first: `data[c * height * width + y * width + x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageU8 {
    /// Channels (1 grey, 3 RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels · height · width` values.
    pub data: Vec<u8>,
}

/// A float image, channels first, values normalised to about `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageF32 {
    /// Channels.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels · height · width` values.
    pub data: Vec<f32>,
}

impl ImageU8 {
    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Values scaled to `[0, 1]`.
    pub fn to_f32(&self) -> ImageF32 {
        ImageF32 {
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self.data.iter().map(|&v| v as f32 / 255.0).collect(),
        }
    }
}

impl ImageF32 {
    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// The image with `channels` channels: grey is replicated, several channels are averaged
    /// into one, otherwise the first channel is replicated.
    pub fn with_channels(self, channels: usize) -> ImageF32 {
        let n = self.height * self.width;
        let data = match (self.channels, channels) {
            (a, b) if a == b => return self,
            (1, c) => self.data.repeat(c),
            (k, 1) => (0..n)
                .map(|p| (0..k).map(|c| self.data[c * n + p]).sum::<f32>() / k as f32)
                .collect(),
            (_, c) => self.data[..n].repeat(c),
        };
        ImageF32 {
            channels,
            data,
            ..self
        }
    }

    /// Values clamped to `[0, 1]` and quantised to 8 bits.
    pub fn to_u8(&self) -> ImageU8 {
        ImageU8 {
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self
                .data
                .iter()
                .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
        }
    }
}

/// Pixel values as decoded, before any normalisation: interleaved (`HWC`) samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 16-bit samples.
    U16(Vec<u16>),
    /// 32-bit integer samples (TIFF label images).
    U32(Vec<u32>),
    /// Float samples.
    F32(Vec<f32>),
}

/// A decoded image file: interleaved samples and their layout.
#[derive(Debug, Clone, PartialEq)]
pub struct RawImage {
    /// Channels per pixel (1, 2 = grey+alpha, 3, 4 = RGBA).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height · width · channels` samples, interleaved.
    pub samples: Samples,
}

/// Largest image side the readers accept; a header claiming more is rejected before decoding.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

fn is_tiff(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

/// Decodes a PNG, JPEG or TIFF file, keeping its bit depth. Zero-byte, truncated, corrupt and
/// absurdly large images are errors that name the file.
pub fn decode(path: &Path) -> Result<RawImage> {
    let bytes = read_file(path)?;
    if bytes.is_empty() {
        return Err(DataError::decode(path, "the file is empty (0 bytes)"));
    }
    if is_tiff(path) || bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        decode_tiff(path, &bytes)
    } else {
        decode_with_image(path, &bytes)
    }
}

fn decode_with_image(path: &Path, bytes: &[u8]) -> Result<RawImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::decode(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| DataError::decode(path, e))?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let channels = decoded.color().channel_count() as usize;
    use image::DynamicImage as D;
    let samples = match decoded {
        D::ImageLuma8(i) => Samples::U8(i.into_raw()),
        D::ImageLumaA8(i) => Samples::U8(i.into_raw()),
        D::ImageRgb8(i) => Samples::U8(i.into_raw()),
        D::ImageRgba8(i) => Samples::U8(i.into_raw()),
        D::ImageLuma16(i) => Samples::U16(i.into_raw()),
        D::ImageLumaA16(i) => Samples::U16(i.into_raw()),
        D::ImageRgb16(i) => Samples::U16(i.into_raw()),
        D::ImageRgba16(i) => Samples::U16(i.into_raw()),
        D::ImageRgb32F(i) => Samples::F32(i.into_raw()),
        D::ImageRgba32F(i) => Samples::F32(i.into_raw()),
        other => Samples::U8(other.to_rgb8().into_raw()),
    };
    let channels = match &samples {
        Samples::U8(v) if v.len() == width * height * 3 && channels != 3 => 3,
        _ => channels,
    };
    Ok(RawImage {
        channels,
        height,
        width,
        samples,
    })
}

fn decode_tiff(path: &Path, bytes: &[u8]) -> Result<RawImage> {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    let mut decoder = Decoder::new(std::io::Cursor::new(bytes))
        .map_err(|e| DataError::decode(path, e))?
        .with_limits({
            let mut limits = Limits::default();
            limits.decoding_buffer_size = 1 << 30;
            limits.ifd_value_size = 1 << 20;
            limits.intermediate_buffer_size = 1 << 30;
            limits
        });
    let (width, height) = decoder
        .dimensions()
        .map_err(|e| DataError::decode(path, e))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width == 0 || height == 0 {
        return Err(DataError::decode(
            path,
            format!("dimensions {width}×{height} outside 1..={MAX_IMAGE_SIDE}"),
        ));
    }
    let colortype = decoder
        .colortype()
        .map_err(|e| DataError::decode(path, e))?;
    use tiff::ColorType as C;
    let channels = match colortype {
        C::Gray(_) => 1,
        C::GrayA(_) => 2,
        C::RGB(_) => 3,
        C::RGBA(_) => 4,
        other => {
            return Err(DataError::decode(
                path,
                format!("unsupported TIFF colour type {other:?} (grey, grey+alpha, RGB or RGBA)"),
            ));
        }
    };
    let samples = match decoder
        .read_image()
        .map_err(|e| DataError::decode(path, e))?
    {
        DecodingResult::U8(v) => Samples::U8(v),
        DecodingResult::U16(v) => Samples::U16(v),
        DecodingResult::U32(v) => Samples::U32(v),
        DecodingResult::F32(v) => Samples::F32(v),
        DecodingResult::I8(v) => Samples::U32(v.into_iter().map(|x| x.max(0) as u32).collect()),
        DecodingResult::I16(v) => Samples::U32(v.into_iter().map(|x| x.max(0) as u32).collect()),
        DecodingResult::I32(v) => Samples::U32(v.into_iter().map(|x| x.max(0) as u32).collect()),
        other => {
            return Err(DataError::decode(
                path,
                format!(
                    "unsupported TIFF sample type {:?}",
                    std::mem::discriminant(&other)
                ),
            ));
        }
    };
    let raw = RawImage {
        channels,
        height: height as usize,
        width: width as usize,
        samples,
    };
    if raw.samples_len() != raw.channels * raw.height * raw.width {
        return Err(DataError::decode(
            path,
            "sample count does not match the dimensions",
        ));
    }
    Ok(raw)
}

impl RawImage {
    fn samples_len(&self) -> usize {
        match &self.samples {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::U32(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }

    /// Bits per sample (8, 16 or 32).
    pub fn bit_depth(&self) -> u32 {
        match &self.samples {
            Samples::U8(_) => 8,
            Samples::U16(_) => 16,
            Samples::U32(_) | Samples::F32(_) => 32,
        }
    }

    fn sample(&self, i: usize) -> f64 {
        match &self.samples {
            Samples::U8(v) => v[i] as f64,
            Samples::U16(v) => v[i] as f64,
            Samples::U32(v) => v[i] as f64,
            Samples::F32(v) => v[i] as f64,
        }
    }

    /// Colour channels without alpha: 1 for grey(+alpha), 3 for RGB(A).
    pub fn colour_channels(&self) -> usize {
        if self.channels >= 3 { 3 } else { 1 }
    }

    /// Per-pixel "non-zero in any colour channel" — how masks are read (binary or instance
    /// labels alike).
    pub fn nonzero_mask(&self) -> Vec<u8> {
        let pixels = self.height * self.width;
        let colours = self.colour_channels();
        (0..pixels)
            .map(|p| {
                let any = (0..colours).any(|c| self.sample(p * self.channels + c) != 0.0);
                u8::from(any)
            })
            .collect()
    }

    /// Instance labels of a label image (first channel's value per pixel).
    pub fn labels(&self) -> Vec<u32> {
        (0..self.height * self.width)
            .map(|p| self.sample(p * self.channels).max(0.0) as u32)
            .collect()
    }

    /// The image as floats in `[0, 1]`, channels first, alpha dropped. 8-bit images are
    /// divided by 255; deeper images (16-bit microscopy) are stretched between their 0.5th and
    /// 99.5th percentiles, robust to a few hot pixels.
    pub fn normalised(&self) -> ImageF32 {
        let colours = self.colour_channels();
        let pixels = self.height * self.width;
        let (low, high) = match self.samples {
            Samples::U8(_) => (0.0, 255.0),
            _ => self.percentiles(0.005, 0.995),
        };
        let scale = if high > low { 1.0 / (high - low) } else { 0.0 };
        let mut data = vec![0.0f32; colours * pixels];
        for c in 0..colours {
            for p in 0..pixels {
                let v = (self.sample(p * self.channels + c) - low) * scale;
                data[c * pixels + p] = v.clamp(0.0, 1.0) as f32;
            }
        }
        ImageF32 {
            channels: colours,
            height: self.height,
            width: self.width,
            data,
        }
    }

    /// The image as 8 bits, channels first, alpha dropped (deep images normalised first).
    pub fn to_u8(&self) -> ImageU8 {
        match &self.samples {
            Samples::U8(v) => {
                let colours = self.colour_channels();
                let pixels = self.height * self.width;
                let mut data = vec![0u8; colours * pixels];
                for c in 0..colours {
                    for p in 0..pixels {
                        data[c * pixels + p] = v[p * self.channels + c];
                    }
                }
                ImageU8 {
                    channels: colours,
                    height: self.height,
                    width: self.width,
                    data,
                }
            }
            _ => self.normalised().to_u8(),
        }
    }

    fn percentiles(&self, lo: f64, hi: f64) -> (f64, f64) {
        let colours = self.colour_channels();
        let values = (0..self.height * self.width)
            .flat_map(|p| (0..colours).map(move |c| p * self.channels + c))
            .map(|i| self.sample(i))
            .collect();
        robust_range(values, lo, hi).unwrap_or((0.0, 1.0))
    }
}

/// Writes an 8-bit image as PNG (grey or RGB), atomically (temporary file + rename).
pub fn save_png(image: &ImageU8, path: &Path) -> Result<()> {
    let pixels = image.height * image.width;
    let mut interleaved = vec![0u8; image.data.len()];
    for c in 0..image.channels {
        for p in 0..pixels {
            interleaved[p * image.channels + c] = image.data[c * pixels + p];
        }
    }
    let colour = match image.channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        n => {
            return Err(DataError::invalid(
                "image",
                format!("cannot write {n} channels as PNG (1 or 3)"),
            ));
        }
    };
    write_atomically(path, |tmp| {
        image::save_buffer_with_format(
            tmp,
            &interleaved,
            image.width as u32,
            image.height as u32,
            colour,
            image::ImageFormat::Png,
        )
        .map_err(|e| DataError::decode(path, e))
    })
}

/// Writes an instance-label image (`height × width` ids, 0 = background) as a 16-bit grey
/// PNG, atomically. More than 65,535 objects is an error.
pub fn save_label_png(labels: &[u32], height: usize, width: usize, path: &Path) -> Result<()> {
    if labels.len() != height * width {
        return Err(DataError::invalid(
            "label image",
            format!("{} labels for {width}×{height} pixels", labels.len()),
        ));
    }
    let max = labels.iter().copied().max().unwrap_or(0);
    if max > u16::MAX as u32 {
        return Err(DataError::invalid(
            "label image",
            format!("object id {max} does not fit a 16-bit PNG (at most 65535 objects)"),
        ));
    }
    let bytes: Vec<u8> = labels
        .iter()
        .flat_map(|&l| (l as u16).to_ne_bytes())
        .collect();
    write_atomically(path, |tmp| {
        image::save_buffer_with_format(
            tmp,
            &bytes,
            width as u32,
            height as u32,
            image::ExtendedColorType::L16,
            image::ImageFormat::Png,
        )
        .map_err(|e| DataError::decode(path, e))
    })
}

/// Writes `contents` to `path` atomically (see [`skipnet_core::atomic`]).
pub fn write_bytes_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    skipnet_core::atomic::write_bytes(path, contents).map_err(|e| DataError::io(path, e))
}

/// Runs `write` on a temporary file beside `path`, then commits it into place with
/// [`skipnet_core::atomic::commit`] (new-file mode, synced, renamed, folder synced), so that
/// `path` is either the old file or the complete new one.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = skipnet_core::atomic::temp_path(path);
    if let Some(dir) = tmp.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    if let Err(e) = write(&tmp) {
        std::fs::remove_file(&tmp).ok();
        return Err(e);
    }
    skipnet_core::atomic::commit(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// The `lo` and `hi` quantiles of the finite `values` (the whole range where they coincide);
/// `None` without any finite value.
fn robust_range(mut values: Vec<f64>, lo: f64, hi: f64) -> Option<(f64, f64)> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let (low, high) = (at(lo), at(hi));
    Some(if high > low {
        (low, high)
    } else {
        (values[0], values[values.len() - 1])
    })
}

/// Stretches `values` in place between their `lo` and `hi` quantiles to [0, 1], clamped — the
/// range [`RawImage::normalised`] uses for deep images (flat data becomes 0).
pub fn stretch_percentiles(values: &mut [f32], lo: f64, hi: f64) {
    let all = values.iter().map(|&v| v as f64).collect();
    let Some((low, high)) = robust_range(all, lo, hi) else {
        return;
    };
    // The quantiles are values of `values`, so f32 holds them exactly.
    let (low, high) = (low as f32, high as f32);
    let scale = if high > low { 1.0 / (high - low) } else { 0.0 };
    for v in values.iter_mut() {
        *v = ((*v - low) * scale).clamp(0.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretch_maps_the_quantiles_to_zero_and_one_and_clamps_outliers() {
        // 0..=1000: the 0.5th percentile is 5, the 99.5th 995.
        let mut values: Vec<f32> = (0..=1000).map(|v| v as f32).collect();
        stretch_percentiles(&mut values, 0.005, 0.995);
        assert_eq!(values[5], 0.0);
        assert_eq!(values[995], 1.0);
        assert_eq!((values[0], values[1000]), (0.0, 1.0), "outliers clamped");
        assert!((values[500] - 0.5).abs() < 1e-6);
        // Flat data has no spread to stretch: all 0.
        let mut flat = vec![3.0f32; 10];
        stretch_percentiles(&mut flat, 0.005, 0.995);
        assert!(flat.iter().all(|&v| v == 0.0));
    }
}
