//! NumPy `.npy` files (version 1.0–3.0, C order), the exchange format of `predict
//! --input-npy / --output-npy`. Reading accepts the numeric dtypes NumPy writes by default —
//! float16/32/64, signed and unsigned 8–64-bit integers, bool, either byte order — and converts
//! them to `f32`; writing is little-endian `float32`.

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
    let dtype = Dtype::parse(descr).map_err(|d| {
        DataError::format(
            path,
            format!(
                "dtype {d} is not supported: expected a number (float16/32/64, int8–64, \
                 uint8–64 or bool, e.g. '<f4')"
            ),
        )
    })?;
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
    if count.checked_mul(dtype.size) != Some(payload.len()) {
        return Err(DataError::format(
            path,
            format!(
                "shape {shape:?} needs {} bytes of {} data, the file holds {}",
                count.saturating_mul(dtype.size),
                dtype.name(),
                payload.len()
            ),
        ));
    }
    let data = payload
        .chunks_exact(dtype.size)
        .map(|c| dtype.value(c))
        .collect();
    Ok(NpyArray { shape, data })
}

/// The kind of number a `.npy` dtype holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberKind {
    Float,
    Int,
    Uint,
    Bool,
}

/// A numeric `.npy` dtype: kind, bytes per value, byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    kind: NumberKind,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    /// Parses the quoted `descr` value (`'<f4'`, `'|u1'`, `'>i8'`, `'|b1'`...); `Err` holds
    /// the descr as written.
    fn parse(descr: &str) -> std::result::Result<Self, String> {
        let quoted = descr.split(',').next().unwrap_or("").trim();
        let text = quoted.trim_matches(|c| c == '\'' || c == '"');
        let unsupported = || Err(quoted.to_string());
        let mut chars = text.chars();
        let (order, code) = match (chars.next(), chars.next()) {
            (Some(o @ ('<' | '>' | '|' | '=')), Some(code)) => (o, code),
            _ => return unsupported(),
        };
        let Ok(size) = chars.as_str().parse::<usize>() else {
            return unsupported();
        };
        let kind = match (code, size) {
            ('f', 2 | 4 | 8) => NumberKind::Float,
            ('i', 1 | 2 | 4 | 8) => NumberKind::Int,
            ('u', 1 | 2 | 4 | 8) => NumberKind::Uint,
            ('b', 1) => NumberKind::Bool,
            _ => return unsupported(),
        };
        Ok(Self {
            kind,
            size,
            big_endian: order == '>' || (order == '=' && cfg!(target_endian = "big")),
        })
    }

    fn name(self) -> String {
        let kind = match self.kind {
            NumberKind::Float => "float",
            NumberKind::Int => "int",
            NumberKind::Uint => "uint",
            NumberKind::Bool => return "bool".into(),
        };
        format!("{kind}{}", self.size * 8)
    }

    /// The value of one element's bytes, as `f32`.
    fn value(self, bytes: &[u8]) -> f32 {
        let mut b = [0u8; 8];
        b[..self.size].copy_from_slice(bytes);
        if self.big_endian {
            b[..self.size].reverse();
        }
        match (self.kind, self.size) {
            (NumberKind::Float, 2) => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            (NumberKind::Float, 4) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            (NumberKind::Float, _) => f64::from_le_bytes(b) as f32,
            (NumberKind::Bool, _) => f32::from(u8::from(b[0] != 0)),
            (NumberKind::Uint, _) => u64::from_le_bytes(b) as f32,
            (NumberKind::Int, size) => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                ((i64::from_le_bytes(b) << shift) >> shift) as f32
            }
        }
    }
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
        let err = parse(&replace(b"<f4", b"<c8"), p).unwrap_err().to_string();
        assert!(
            err.contains("dtype '<c8' is not supported") && err.contains("x.npy"),
            "{err}"
        );
        let err = parse(&replace(b"<f4", b"<f8"), p).unwrap_err().to_string();
        assert!(err.contains("needs 32 bytes of float64 data"), "{err}");
        let err = parse(&replace(b"False", b"True "), p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Fortran"), "{err}");
    }

    /// A `.npy` file of `descr` holding `payload` with shape `shape`.
    fn npy_bytes(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn numpy_default_dtypes_read_as_f32() {
        let p = Path::new("d.npy");
        let read = |descr: &str, payload: Vec<u8>| {
            parse(&npy_bytes(descr, "(3,)", &payload), p).unwrap().data
        };
        let f64s: Vec<u8> = [1.5f64, -2.0, 1e-3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(read("<f8", f64s), vec![1.5, -2.0, 1e-3]);
        let f64_be: Vec<u8> = [1.5f64, -2.0, 4.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(read(">f8", f64_be), vec![1.5, -2.0, 4.0]);
        let f16s: Vec<u8> = [0.5f32, -3.0, 65504.0]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        assert_eq!(read("<f2", f16s), vec![0.5, -3.0, 65504.0]);
        let i64s: Vec<u8> = [-7i64, 0, 1 << 40]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(read("<i8", i64s), vec![-7.0, 0.0, (1u64 << 40) as f32]);
        let i16s: Vec<u8> = [-300i16, 2, 32767]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(read("<i2", i16s), vec![-300.0, 2.0, 32767.0]);
        assert_eq!(read("|i1", vec![0xff, 0x80, 5]), vec![-1.0, -128.0, 5.0]);
        assert_eq!(read("|u1", vec![0, 128, 255]), vec![0.0, 128.0, 255.0]);
        let u32s: Vec<u8> = [4_000_000_000u32, 1, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(read("<u4", u32s), vec![4e9, 1.0, 0.0]);
        assert_eq!(read("|b1", vec![1, 0, 1]), vec![1.0, 0.0, 1.0]);
        for bad in ["<U5", "|O", "<c16", "<f16", "<i3", "|V8", "<M8[ns]"] {
            let err = parse(&npy_bytes(bad, "(1,)", &[0; 8]), p)
                .unwrap_err()
                .to_string();
            assert!(err.contains("is not supported"), "{bad}: {err}");
        }
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
