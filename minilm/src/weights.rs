//! Reading f32 tensors from a `.safetensors` file: an 8-byte header length,
//! a JSON header naming each tensor's dtype, shape and byte range, then data.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub struct Weights {
    data: Vec<u8>,
    tensors: HashMap<String, TensorInfo>,
    data_start: usize,
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

impl Weights {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let header_length = data
            .get(..8)
            .map(|bytes| u64::from_le_bytes(bytes.try_into().expect("8 bytes")) as usize)
            .context("the weights file is too short")?;
        let header = data
            .get(8..8usize.saturating_add(header_length))
            .context("the weights file's header is cut short")?;
        let mut entries: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).context("reading the weights file's header")?;
        entries.remove("__metadata__");
        let tensors = entries
            .into_iter()
            .map(|(name, info)| Ok((name, serde_json::from_value(info)?)))
            .collect::<anyhow::Result<_>>()
            .context("reading the weights file's header")?;
        Ok(Weights {
            data,
            tensors,
            data_start: 8 + header_length,
        })
    }

    /// The named f32 tensor, checked against the shape the model needs.
    /// Checkpoints saved from `BertModel` inside a wrapper prefix names with `bert.`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> anyhow::Result<Vec<f32>> {
        let (name, info) = [name.to_string(), format!("bert.{name}")]
            .into_iter()
            .find_map(|candidate| self.tensors.get(&candidate).map(|info| (candidate, info)))
            .with_context(|| format!("the model has no tensor {name}"))?;
        anyhow::ensure!(
            info.dtype == "F32",
            "tensor {name} is {}, not F32",
            info.dtype
        );
        anyhow::ensure!(
            info.shape == shape,
            "tensor {name} has shape {:?}, expected {shape:?}",
            info.shape
        );
        let [start, end] = info.data_offsets;
        let bytes = self
            .data
            .get(self.data_start + start..self.data_start + end)
            .filter(|bytes| bytes.len() == shape.iter().product::<usize>() * 4)
            .with_context(|| format!("tensor {name}'s data is out of bounds"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|value| f32::from_le_bytes([value[0], value[1], value[2], value[3]]))
            .collect())
    }
}
