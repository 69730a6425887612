//! Retrieval at scale (`make bench`): vector + keyword search with the owner
//! filter over 10k and 100k passages of 384 dimensions, as the embedded index
//! answers a question. The owner owns every passage: the worst case for a scan.
//! Also: searches from several tasks at once, which must not serialise.

use std::sync::Arc;

use askdocs_shared::embedded::{SqliteDb, SqliteVectorIndex};
use askdocs_shared::model::{Chunk, SearchScope};
use askdocs_shared::ports::{SearchQuery, VectorIndex};
use criterion::{criterion_group, criterion_main, Criterion};

const DIMENSION: usize = 384;
const WORDS: &[&str] = &[
    "pump", "valve", "tide", "lamp", "harbour", "keeper", "signal", "fog", "engine", "cable",
    "winch", "boiler", "gauge", "filter", "pressure", "beacon", "mooring", "anchor", "rotor",
    "sensor", "relay", "error", "code", "reset", "manual", "service", "interval", "oil",
];

/// A reproducible unit vector and a sentence of domain words for passage `n`.
fn passage(n: usize) -> (Vec<f32>, String) {
    let mut state = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut vector: Vec<f32> = (0..DIMENSION).map(|_| (next() - 0.5) as f32).collect();
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|x| *x /= norm);
    let text: Vec<&str> = (0..60)
        .map(|_| WORDS[(next() * WORDS.len() as f64) as usize])
        .collect();
    (vector, format!("{} E-{}.", text.join(" "), n))
}

fn index_of(
    passages: usize,
    runtime: &tokio::runtime::Runtime,
) -> (Arc<SqliteVectorIndex>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(SqliteVectorIndex::new(
        SqliteDb::open(&dir.path().join("askdocs.db")).unwrap(),
    ));
    runtime.block_on(async {
        for start in (0..passages).step_by(1000) {
            let chunks: Vec<Chunk> = (start..(start + 1000).min(passages))
                .map(|n| {
                    let (embedding, text) = passage(n);
                    Chunk {
                        user_id: "owner".into(),
                        document_id: format!("document-{}", n / 100).into(),
                        ordinal: (n % 100) as u32,
                        page: 1,
                        text,
                        // As processing stores them: one vector per sentence, read back with each hit.
                        sentence_vectors: vec![embedding.clone(); 6],
                        embedding,
                    }
                })
                .collect();
            index.upsert(&chunks).await.unwrap();
        }
    });
    (index, dir)
}

fn search(index: &SqliteVectorIndex, runtime: &tokio::runtime::Runtime, query: &[f32]) {
    let scope = SearchScope {
        user_id: "owner".into(),
        document_ids: None,
    };
    let hits = runtime
        .block_on(index.search(
            &scope,
            SearchQuery {
                vector: query,
                text: "how do I reset the pump pressure valve?",
            },
            30,
        ))
        .unwrap();
    assert_eq!(hits.by_meaning.len(), 30);
}

fn retrieval(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for (label, passages) in [("10k", 10_000), ("100k", 100_000)] {
        let (index, _dir) = index_of(passages, &runtime);
        let (query, _) = passage(passages + 7);
        // The first search loads the owner's vectors; time the steady state.
        search(&index, &runtime, &query);
        criterion.bench_function(&format!("search_{label}"), |bench| {
            bench.iter(|| search(&index, &runtime, &query))
        });
        criterion.bench_function(&format!("search_{label}_8_at_once"), |bench| {
            bench.iter(|| {
                runtime.block_on(async {
                    let searches = (0..8).map(|_| {
                        let index = index.clone();
                        let query = query.clone();
                        tokio::spawn(async move {
                            let scope = SearchScope {
                                user_id: "owner".into(),
                                document_ids: None,
                            };
                            index
                                .search(
                                    &scope,
                                    SearchQuery {
                                        vector: &query,
                                        text: "reset pump",
                                    },
                                    30,
                                )
                                .await
                                .unwrap()
                        })
                    });
                    for search in searches.collect::<Vec<_>>() {
                        search.await.unwrap();
                    }
                })
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = retrieval
}
criterion_main!(benches);
