//! A reader for NumPy `.npy` files (format versions 1 and 2), enough for the embedding model's weights:
//! little-endian `f4`, `f8` and `u1`/`i1` arrays in C order.
//!
//! Why our own reader: the format is a ten-line header and raw bytes, and a crate for it would bring a
//! dependency for what the setup script already unpacks into plain files.

use super::EmbedError;

/// Largest header accepted; NumPy writes a few hundred bytes.
pub const NPY_HEADER_BYTES_MAX: usize = 64 * 1024;

/// A parsed array: its shape and its values as `f32` (integers are widened, `f8` is narrowed).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

/// A parsed `u1` array kept as bytes (the quantised embedding table).
#[derive(Debug, Clone, PartialEq)]
pub struct Bytes {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<u8>,
}

/// The element type and shape from an `.npy` header, and where the data starts.
struct Header {
    descr: String,
    shape: Vec<usize>,
    data_offset: usize,
}

fn bad(name: &str, why: &str) -> EmbedError {
    EmbedError::Format {
        file: name.to_string(),
        why: why.to_string(),
    }
}

fn parse_header(name: &str, bytes: &[u8]) -> Result<Header, EmbedError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(name, "not an .npy file (no magic)"));
    }
    let (length, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        _ => return Err(bad(name, "unsupported .npy version")),
    };
    if length > NPY_HEADER_BYTES_MAX || start + length > bytes.len() {
        return Err(bad(name, "header length out of range"));
    }
    let text = std::str::from_utf8(&bytes[start..start + length])
        .map_err(|_| bad(name, "header is not text"))?;
    if text.contains("'fortran_order': True") {
        return Err(bad(name, "Fortran-order arrays are not supported"));
    }
    let descr = quoted_value(text, "'descr':").ok_or_else(|| bad(name, "no descr"))?;
    let shape_text = text
        .split("'shape':")
        .nth(1)
        .and_then(|rest| rest.split('(').nth(1))
        .and_then(|rest| rest.split(')').next())
        .ok_or_else(|| bad(name, "no shape"))?;
    let mut shape = Vec::new();
    for part in shape_text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        shape.push(part.parse().map_err(|_| bad(name, "bad shape"))?);
    }
    Ok(Header {
        descr,
        shape,
        data_offset: start + length,
    })
}

/// The single-quoted value after `key` in a Python dict literal.
fn quoted_value(text: &str, key: &str) -> Option<String> {
    let rest = text.split(key).nth(1)?;
    let rest = rest.split('\'').nth(1)?;
    Some(rest.to_string())
}

/// Parses an `.npy` file of floats or small integers into `f32`s. `name` is for error messages.
pub fn parse_array(name: &str, bytes: &[u8]) -> Result<Array, EmbedError> {
    let header = parse_header(name, bytes)?;
    let count: usize = header.shape.iter().product();
    let body = &bytes[header.data_offset..];
    let width = match header.descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        "|u1" | "|i1" => 1,
        other => return Err(bad(name, &format!("unsupported dtype {other}"))),
    };
    if body.len() != count * width {
        return Err(bad(name, "data length does not match the shape"));
    }
    let data = match header.descr.as_str() {
        "<f4" => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<f8" => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        "|u1" => body.iter().map(|&b| f32::from(b)).collect(),
        _ => body.iter().map(|&b| f32::from(b as i8)).collect(),
    };
    Ok(Array {
        shape: header.shape,
        data,
    })
}

/// Parses a `u1` `.npy` file, keeping the bytes.
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Result<Bytes, EmbedError> {
    let header = parse_header(name, bytes)?;
    if header.descr != "|u1" {
        return Err(bad(name, "expected a uint8 array"));
    }
    let count: usize = header.shape.iter().product();
    let body = &bytes[header.data_offset..];
    if body.len() != count {
        return Err(bad(name, "data length does not match the shape"));
    }
    Ok(Bytes {
        shape: header.shape,
        data: body.to_vec(),
    })
}

/// Writes an `f4` `.npy` file image (for tests and small fixtures).
pub fn write_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    write_raw(
        "<f4",
        shape,
        &data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

/// Writes a `u1` `.npy` file image (for tests and small fixtures).
pub fn write_u8(shape: &[usize], data: &[u8]) -> Vec<u8> {
    write_raw("|u1", shape, data)
}

fn write_raw(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f32_and_u8() {
        let image = write_f32(&[2, 3], &[1.0, -2.0, 3.5, 0.0, 4.0, 5.0]);
        let a = parse_array("a.npy", &image).expect("parse");
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, [1.0, -2.0, 3.5, 0.0, 4.0, 5.0]);
        let image = write_u8(&[4], &[0, 7, 200, 255]);
        let b = parse_bytes("b.npy", &image).expect("parse");
        assert_eq!(b.shape, [4]);
        assert_eq!(b.data, [0, 7, 200, 255]);
        assert_eq!(parse_array("b.npy", &image).expect("parse").data[2], 200.0);
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let mut image = write_f32(&[3], &[1.0, 2.0, 3.0]);
        image.pop();
        assert!(matches!(
            parse_array("t.npy", &image),
            Err(EmbedError::Format { .. })
        ));
        assert!(parse_array("x.npy", b"PK\x03\x04 not numpy").is_err());
        let image = write_f32(&[1], &[1.0]);
        assert!(parse_bytes("f.npy", &image).is_err());
    }
}
