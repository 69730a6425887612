//! The local embedder against the real all-MiniLM-L6-v2: vectors made by
//! sentence-transformers from the same model files (tests/fixtures/minilm-reference.json,
//! copied from the team's shared fixtures; its README says how they were made).

use askdocs_shared::embedded::MiniLmEmbedder;
use askdocs_shared::ports::Embedder;
use askdocs_shared::testing::harness::model_dir;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    embedding: Vec<f32>,
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test]
async fn embeddings_match_sentence_transformers_on_every_reference_item() {
    // GIVEN the reference texts and the vectors sentence-transformers made for them
    let reference: Reference =
        serde_json::from_str(include_str!("../../tests/fixtures/minilm-reference.json")).unwrap();
    assert_eq!(reference.items.len(), 8);
    let embedder =
        MiniLmEmbedder::load(&model_dir()).expect("the model is fetched by `make model`");

    // WHEN our embedder embeds them all in one call (as ingestion batches them)
    let texts: Vec<String> = reference
        .items
        .iter()
        .map(|item| item.text.clone())
        .collect();
    let vectors = embedder.embed(&texts).await.unwrap();

    // THEN every vector is 384-d, unit length, and within 0.999 cosine of the reference
    assert_eq!(embedder.dimensions(), 384);
    for (item, vector) in reference.items.iter().zip(&vectors) {
        assert_eq!(vector.len(), 384);
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        let similarity = cosine(vector, &item.embedding);
        assert!(
            similarity >= 0.999,
            "cosine {similarity} for {:?}",
            &item.text[..item.text.len().min(60)]
        );
    }

    // AND it passes the suite every embedder passes
    askdocs_shared::testing::embedder_contract(&embedder).await;

    // AND embedding one text alone gives the same vector as in a padded batch
    let alone = embedder.embed(&texts[..1]).await.unwrap();
    assert!(cosine(&alone[0], &vectors[0]) > 0.9999);
}
