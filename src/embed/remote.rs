//! An OpenAI-compatible server's `/v1/embeddings` as the embedding model (llama-server with
//! `--embeddings`, vLLM, Ollama, LM Studio). Vectors are normalised here, as the local model's
//! are, so scores mean the same whichever model made them.

use serde_json::{Value, json};

use super::Embedder;
use crate::error::EmbedError;
use crate::llm::Endpoint;
use crate::llm::remote::{http_agent, server_error};

/// Texts per request: servers cap a request's inputs (llama-server by its batch size), and
/// small requests keep a cancel prompt.
const REQUEST_TEXTS: usize = 16;

/// The id documents record for vectors from the endpoint `name`.
pub fn endpoint_model_id(name: &str) -> String {
    format!("{}{name}", crate::library::ENDPOINT_PREFIX)
}

pub struct RemoteEmbedder {
    endpoint: Endpoint,
    agent: ureq::Agent,
    model_id: String,
    dims: usize,
}

impl RemoteEmbedder {
    /// Connects by embedding one short text, which also tells the vectors' size. With
    /// `stored_dims` (the size of the library's vectors from it), another size is refused:
    /// the server now runs another model, and mixing the two would rank nonsense.
    pub fn connect(endpoint: Endpoint, stored_dims: Option<usize>) -> Result<Self, EmbedError> {
        let mut embedder = Self {
            agent: http_agent(&endpoint),
            model_id: endpoint_model_id(&endpoint.name),
            endpoint,
            dims: 0,
        };
        let probe = embedder.request(&["Lectern".to_owned()])?;
        embedder.dims = probe[0].len();
        if embedder.dims == 0 {
            return Err(embedder.fail("it returned an empty vector"));
        }
        if let Some(stored) = stored_dims.filter(|&stored| stored != embedder.dims) {
            return Err(embedder.fail(format!(
                "it now returns vectors of {} dimensions, the stored ones have {stored}; \
                 switch to it again to re-embed",
                embedder.dims
            )));
        }
        Ok(embedder)
    }

    fn fail(&self, reason: impl Into<String>) -> EmbedError {
        EmbedError::Endpoint {
            name: self.endpoint.name.clone(),
            url: self.endpoint.base_url.clone(),
            reason: reason.into(),
        }
    }

    fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({
            "model": self.endpoint.model,
            "input": texts,
            "encoding_format": "float",
        });
        let mut request = self
            .agent
            .post(self.endpoint.url("embeddings"))
            .header("Content-Type", "application/json");
        if let Some(key) = &self.endpoint.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request
            .send(body.to_string())
            .map_err(|e| self.fail(self.endpoint.unreachable(&e)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| self.fail(format!("the reply broke off: {e}")))?;
        if status != 200 {
            return Err(self.fail(server_error(status, &text)));
        }
        let reply: Value = serde_json::from_str(&text)
            .map_err(|e| self.fail(format!("/embeddings is not JSON: {e}")))?;
        let mut items: Vec<(u64, Vec<f32>)> = reply["data"]
            .as_array()
            .ok_or_else(|| self.fail("the reply has no data list"))?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let vector = item["embedding"]
                    .as_array()
                    .ok_or_else(|| self.fail("an item has no embedding list"))?
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect::<Option<Vec<f32>>>()
                    .ok_or_else(|| self.fail("an embedding holds a non-number"))?;
                Ok((item["index"].as_u64().unwrap_or(i as u64), vector))
            })
            .collect::<Result<_, EmbedError>>()?;
        if items.len() != texts.len() {
            return Err(self.fail(format!(
                "it returned {} vectors for {} texts",
                items.len(),
                texts.len()
            )));
        }
        items.sort_by_key(|(index, _)| *index);
        Ok(items.into_iter().map(|(_, v)| normalised(v)).collect())
    }
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl Embedder for RemoteEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(REQUEST_TEXTS) {
            let batch_vectors = self.request(batch)?;
            if let Some(v) = batch_vectors.iter().find(|v| v.len() != self.dims) {
                return Err(self.fail(format!(
                    "it returned a vector of {} dimensions, earlier ones had {}",
                    v.len(),
                    self.dims
                )));
            }
            vectors.extend(batch_vectors);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::normalised;

    #[test]
    fn vectors_are_scaled_to_unit_length_and_zero_stays_zero() {
        let v = normalised(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalised(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
