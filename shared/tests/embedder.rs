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

#[tokio::test]
async fn passages_come_with_a_vector_per_sentence_read_in_context() {
    // GIVEN the local model and a passage of several sentences
    let embedder =
        MiniLmEmbedder::load(&model_dir()).expect("the model is fetched by `make model`");
    let passage = "Chapter 2\nThe keeper logs the tide every six hours. Error code E-4012 means \
                   the fog pump stalled. Close valve three to clear it."
        .to_string();

    // WHEN it is embedded as processing embeds passages
    let vectors = embedder
        .embed_passages("", std::slice::from_ref(&passage))
        .await
        .unwrap();

    // THEN the passage vector is the one `embed` gives
    let plain = embedder
        .embed(std::slice::from_ref(&passage))
        .await
        .unwrap();
    assert!(cosine(&vectors[0].passage, &plain[0]) > 0.9999);
    // AND there is one unit vector per sentence, in order
    let sentences = askdocs_shared::model::text::sentences(&passage);
    assert_eq!(sentences.len(), 4, "{sentences:?}");
    assert_eq!(vectors[0].sentences.len(), sentences.len());
    for vector in &vectors[0].sentences {
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    // AND the sentence that answers a question is the one nearest to it
    let question = embedder
        .embed(&["What does E-4012 mean?".to_string()])
        .await
        .unwrap();
    let nearest = (0..sentences.len())
        .max_by(|&a, &b| {
            cosine(&question[0], &vectors[0].sentences[a])
                .total_cmp(&cosine(&question[0], &vectors[0].sentences[b]))
        })
        .unwrap();
    assert_eq!(
        sentences[nearest],
        "Error code E-4012 means the fog pump stalled."
    );
}

#[tokio::test]
async fn sentences_past_the_truncated_tokens_are_embedded_on_their_own() {
    // GIVEN a passage far longer than the model's 256 tokens
    let embedder =
        MiniLmEmbedder::load(&model_dir()).expect("the model is fetched by `make model`");
    let filler = "The lamp room is swept and the brass is polished every day. ".repeat(40);
    let last = "The harbour fee is collected by the pilot.";
    let passage = format!("{filler}{last}");

    // WHEN it is embedded with its sentences
    let vectors = embedder
        .embed_passages("", std::slice::from_ref(&passage))
        .await
        .unwrap();

    // THEN the last sentence (beyond the window) still has its own vector, as if alone
    let alone = embedder.embed(&[last.to_string()]).await.unwrap();
    let sentence_vectors = &vectors[0].sentences;
    assert_eq!(sentence_vectors.len(), 41);
    assert!(cosine(sentence_vectors.last().unwrap(), &alone[0]) > 0.9999);
}

#[tokio::test]
async fn a_passage_is_read_under_its_documents_title_and_keeps_its_own_sentences() {
    // GIVEN rows of ubuntu.csv, which never say "Ubuntu" themselves
    let embedder =
        MiniLmEmbedder::load(&model_dir()).expect("the model is fetched by `make model`");
    let rows = "version: 16.04 LTS; codename: Xenial Xerus; release: 2016-04-21\n\
                version: 16.10; codename: Yakkety Yak; release: 2016-10-13\n"
        .to_string();
    let title = askdocs_shared::model::text::document_title("ubuntu.csv");
    assert_eq!(title, "ubuntu");

    // WHEN they are embedded as processing embeds them: under the title, and without
    let titled = embedder
        .embed_passages(&title, std::slice::from_ref(&rows))
        .await
        .unwrap();
    let untitled = embedder
        .embed_passages("", std::slice::from_ref(&rows))
        .await
        .unwrap();

    // THEN the passage read under its title is nearer a question naming Ubuntu
    let question = embedder
        .embed(&["When was Ubuntu 16.04 released?".to_string()])
        .await
        .unwrap();
    assert!(
        cosine(&question[0], &titled[0].passage)
            > cosine(&question[0], &untitled[0].passage) + 0.05,
        "{} vs {}",
        cosine(&question[0], &titled[0].passage),
        cosine(&question[0], &untitled[0].passage)
    );
    // AND its sentence vectors are still one per sentence of the passage itself
    let sentences = askdocs_shared::model::text::sentences(&rows);
    assert_eq!(titled[0].sentences.len(), sentences.len());
}

#[test]
fn a_documents_title_is_its_file_name_in_words() {
    use askdocs_shared::model::text::document_title;
    assert_eq!(document_title("debian-policy.pdf"), "debian policy");
    assert_eq!(document_title("Linux-PAM_SAG.txt"), "Linux PAM SAG");
    assert_eq!(
        document_title("git-2.39.0-RelNotes.txt"),
        "git 2.39.0 RelNotes"
    );
    assert_eq!(document_title("README"), "README");
}
