//! NumPy `.npy` files of little-endian `float32` in C order (version 1.0–3.0), the exchange
//! format of `predict --input-npy / --output-npy`.

use std::path::Path;

use crate::error::{DataError, Result, read_file};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A float32 array and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, C order.
    pub data: Vec<f32>,
}

fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// Parses `.npy` bytes; `path` names the file in errors. Only `<f4` (float32, little endian),
/// C order, is accepted; the header's shape must match the data exactly.
pub fn parse(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err(DataError::format(
            path,
            "not a .npy file (missing the \\x93NUMPY magic)",
        ));
    }
    let major = bytes[6];
    let (header_len, offset): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(DataError::format(
                path,
                format!(".npy version {major} is not supported (1, 2 or 3)"),
            ));
        }
    };
    let end = offset
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| DataError::format(path, "the .npy header is longer than the file"))?;
    let header = std::str::from_utf8(&bytes[offset..end])
        .map_err(|_| DataError::format(path, "the .npy header is not text"))?;
    let descr = header_value(header, "descr")
        .ok_or_else(|| DataError::format(path, "the .npy header has no 'descr'"))?;
    if !descr.starts_with("'<f4'") {
        return Err(DataError::format(
            path,
            format!(
                "dtype {} is not supported: expected '<f4' (float32, little endian)",
                descr.split(',').next().unwrap_or("")
            ),
        ));
    }
    let fortran = header_value(header, "fortran_order")
        .ok_or_else(|| DataError::format(path, "the .npy header has no 'fortran_order'"))?;
    if fortran.starts_with("True") {
        return Err(DataError::format(
            path,
            "Fortran-order arrays are not supported: save with C order",
        ));
    }
    let shape_text = header_value(header, "shape")
        .ok_or_else(|| DataError::format(path, "the .npy header has no 'shape'"))?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| DataError::format(path, "the .npy shape is not a tuple"))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            DataError::format(
                path,
                format!("the .npy shape ({shape_text}) is not a tuple of sizes"),
            )
        })?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| DataError::format(path, format!("shape {shape:?} overflows")))?;
    let payload = &bytes[end..];
    if count.checked_mul(4) != Some(payload.len()) {
        return Err(DataError::format(
            path,
            format!(
                "shape {shape:?} needs {} bytes of float32 data, the file holds {}",
                count.saturating_mul(4),
                payload.len()
            ),
        ));
    }
    let data = payload
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(NpyArray { shape, data })
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    parse(&read_file(path)?, path)
}

/// Encodes a float32 array as `.npy` version 1.0.
pub fn encode(array: &NpyArray) -> Vec<u8> {
    let shape = match array.shape.as_slice() {
        [one] => format!("({one},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data start on a 64-byte boundary, ending with a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * array.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &array.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a `.npy` file atomically.
pub fn write(array: &NpyArray, path: &Path) -> Result<()> {
    crate::image::write_bytes_atomically(path, &encode(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_header() {
        let array = NpyArray {
            shape: vec![2, 3],
            data: vec![1.0, -2.5, 3.0, 0.0, 1e-3, 7.0],
        };
        let bytes = encode(&array);
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        assert!(
            std::str::from_utf8(&bytes[10..80])
                .unwrap()
                .starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
        );
        assert_eq!(parse(&bytes, Path::new("a.npy")).unwrap(), array);
        let vector = NpyArray {
            shape: vec![4],
            data: vec![0.0; 4],
        };
        assert_eq!(parse(&encode(&vector), Path::new("v.npy")).unwrap(), vector);
    }

    #[test]
    fn bad_files_are_errors() {
        let p = Path::new("x.npy");
        let good = encode(&NpyArray {
            shape: vec![2, 2],
            data: vec![0.0; 4],
        });
        assert!(
            parse(&good[..good.len() - 1], p)
                .unwrap_err()
                .to_string()
                .contains("needs 16 bytes")
        );
        assert!(
            parse(b"hello", p)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
        let replace = |from: &[u8], to: &[u8]| {
            let mut bytes = good.clone();
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            bytes[at..at + to.len()].copy_from_slice(to);
            bytes
        };
        let err = parse(&replace(b"<f4", b"<f8"), p).unwrap_err().to_string();
        assert!(err.contains("'<f8'"), "{err}");
        let err = parse(&replace(b"False", b"True "), p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Fortran"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn random_and_mutated_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), at in 0usize..200) {
            let _ = parse(&bytes, Path::new("fuzz.npy"));
            let mut valid = encode(&NpyArray { shape: vec![3, 2], data: vec![1.0; 6] });
            if !bytes.is_empty() {
                let i = at % valid.len();
                valid[i] = bytes[0];
            }
            if let Ok(a) = parse(&valid, Path::new("fuzz.npy")) {
                proptest::prop_assert_eq!(a.shape.iter().product::<usize>(), a.data.len());
            }
        }
    }
}
