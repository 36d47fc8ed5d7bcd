//! The ONNX protobuf types and the reading and writing of model files.
//!
//! Models whose weights live in external data files are read whole: the data
//! is pulled into the model so that rewritten graphs can be handed to ONNX
//! Runtime from memory.

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use prost::Message;

use crate::{Error, Result};

/// Types generated from `onnx.proto` (ONNX 1.23).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};

/// `TensorProto.DataType` codes used by sensie.
pub mod dtype {
    /// 32-bit float.
    pub const FLOAT: i32 = 1;
    /// 32-bit integer.
    pub const INT32: i32 = 6;
    /// 64-bit integer.
    pub const INT64: i32 = 7;
    /// 16-bit float.
    pub const FLOAT16: i32 = 10;
    /// 64-bit float.
    pub const DOUBLE: i32 = 11;
    /// 16-bit brain float.
    pub const BFLOAT16: i32 = 16;

    /// Whether `dtype` is a floating-point type.
    pub fn is_real(dtype: i32) -> bool {
        matches!(dtype, FLOAT | FLOAT16 | DOUBLE | BFLOAT16)
    }
}

/// Reads an ONNX model, resolving external data relative to the file.
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = crate::limits::read_file(path, crate::limits::MAX_MODEL_BYTES)?;
    decode_model(&bytes, path)
}

/// Decodes a serialised ONNX model (a file's bytes, or a model exported in
/// memory); `path` names it in messages, and external data is read relative
/// to its folder.
pub fn decode_model(bytes: &[u8], path: &Path) -> Result<ModelProto> {
    let mut model = ModelProto::decode(bytes).map_err(|e| Error::NotOnnx {
        path: path.to_path_buf(),
        reason: format!("protobuf decoding failed: {e}; is the file complete and an .onnx model?"),
    })?;
    let Some(graph) = model.graph.as_mut() else {
        return Err(Error::NotOnnx {
            path: path.to_path_buf(),
            reason: "the model has no graph".into(),
        });
    };
    if graph.node.is_empty() {
        return Err(Error::NotOnnx {
            path: path.to_path_buf(),
            reason: "the graph has no nodes".into(),
        });
    }
    if model.opset_import.is_empty() {
        return Err(Error::NotOnnx {
            path: path.to_path_buf(),
            reason:
                "it imports no operator set (the file may be cut short); export the model again"
                    .into(),
        });
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for tensor in graph.initializer.iter_mut() {
        load_external(tensor, &dir, path)?;
    }
    for node in graph.node.iter_mut() {
        for attr in node.attribute.iter_mut() {
            if let Some(t) = attr.t.as_mut() {
                load_external(t, &dir, path)?;
            }
        }
    }
    Ok(model)
}

/// Serialises a model to bytes for ONNX Runtime.
pub fn encode_model(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

fn load_external(tensor: &mut TensorProto, dir: &Path, model_path: &Path) -> Result<()> {
    if tensor.data_location != Some(EXTERNAL) {
        return Ok(());
    }
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.clone())
    };
    let bad = |reason: String| Error::NotOnnx {
        path: model_path.to_path_buf(),
        reason,
    };
    let name = tensor.name.clone().unwrap_or_default();
    let location = entry("location").ok_or_else(|| {
        bad(format!(
            "initializer '{name}' is external but names no location"
        ))
    })?;
    let offset: u64 = entry("offset")
        .map(|s| s.parse())
        .transpose()
        .map_err(|_| bad(format!("initializer '{name}': bad external offset")))?
        .unwrap_or(0);
    // As the onnx package and ONNX Runtime do: a model names its data files
    // relative to its own folder, so a model from elsewhere cannot read any
    // local file as its weights.
    let relative = Path::new(&location);
    if relative.as_os_str().is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(bad(format!(
            "initializer '{name}' names external data at '{location}', outside the model's folder; external data must be a relative path inside it (no '..', no absolute path)"
        )));
    }
    let data_path: PathBuf = dir.join(relative);
    let bytes = std::fs::read(&data_path).map_err(|e| Error::io(&data_path, e))?;
    let length: u64 = match entry("length") {
        Some(s) => s
            .parse()
            .map_err(|_| bad(format!("initializer '{name}': bad external length")))?,
        None => bytes.len() as u64 - offset.min(bytes.len() as u64),
    };
    let end = offset
        .checked_add(length)
        .filter(|&end| end <= bytes.len() as u64)
        .ok_or_else(|| Error::Data {
            path: data_path.clone(),
            reason: format!(
                "initializer '{name}' needs bytes {offset}..{} but the file has {} (truncated?)",
                offset.saturating_add(length),
                bytes.len()
            ),
        })?;
    tensor.raw_data = Some(bytes[offset as usize..end as usize].to_vec());
    tensor.data_location = None;
    tensor.external_data.clear();
    Ok(())
}

/// The value of a float tensor (FLOAT, DOUBLE or FLOAT16 data converted to f32).
pub fn tensor_to_f32(t: &TensorProto) -> Option<ArrayD<f32>> {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = match t.data_type? {
        dtype::FLOAT => match &t.raw_data {
            Some(raw) => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            None => t.float_data.clone(),
        },
        dtype::DOUBLE => match &t.raw_data {
            Some(raw) => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            None => t.double_data.iter().map(|&v| v as f32).collect(),
        },
        _ => return None,
    };
    ArrayD::from_shape_vec(shape, data).ok()
}

/// The value of an integer tensor (INT64 or INT32) as i64.
pub fn tensor_to_i64(t: &TensorProto) -> Option<ArrayD<i64>> {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let data: Vec<i64> = match t.data_type? {
        dtype::INT64 => match &t.raw_data {
            Some(raw) => raw
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            None => t.int64_data.clone(),
        },
        dtype::INT32 => match &t.raw_data {
            Some(raw) => raw
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64)
                .collect(),
            None => t.int32_data.iter().map(|&v| v as i64).collect(),
        },
        _ => return None,
    };
    ArrayD::from_shape_vec(shape, data).ok()
}

/// A FLOAT tensor with the given name, shape and values.
pub fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(dtype::FLOAT),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// An INT64 tensor with the given name, shape and values.
pub fn i64_tensor(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(dtype::INT64),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A FLOAT tensor's declaration (a graph input or output): `dims` as given,
/// a negative one the symbolic dimension `batch`.
pub fn f32_value(name: &str, dims: &[i64], batch: &str) -> ValueInfoProto {
    use proto::tensor_shape_proto::{Dimension, dimension::Value};
    use proto::{TensorShapeProto, TypeProto, type_proto};
    let dim = |&d: &i64| Dimension {
        value: Some(if d < 0 {
            Value::DimParam(batch.into())
        } else {
            Value::DimValue(d)
        }),
        ..Default::default()
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dtype::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(dim).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The opset version of the default ONNX domain that a model imports.
pub fn default_opset(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| {
            o.domain.as_deref().unwrap_or("").is_empty() || o.domain.as_deref() == Some("ai.onnx")
        })
        .and_then(|o| o.version)
        .unwrap_or(1)
}
