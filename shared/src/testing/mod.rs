//! Test support, compiled only with the `testing` feature (enabled from
//! dev-dependencies): the contract suite every adapter of a port must pass,
//! in-memory adapters for unit tests of the domain, and the harness that
//! drives the functions with the real events in `events/`.

pub mod harness;
pub mod oidc;
#[cfg(feature = "aws-rerank")]
pub mod rerank;
/// Hostile files and the stable fuzz harness live with the readers.
pub use askdocs_extract::testing::{fuzz, hostile};

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::config::Quota;
use crate::error::{Error, Result};
use crate::model::{
    now, Chunk, Citation, Document, DocumentId, DocumentStatus, GenerationRequest, HistoryEntry,
    Passage, ProcessingOutcome, SearchScope, StorageUsage, Turn, User, UserId,
};
use crate::ports::{
    DocumentStore, Generator, HistoryStore, ObjectStore, SearchQuery, TokenStore, UserStore,
    VectorIndex,
};

pub fn sample_user(email: &str) -> User {
    User {
        user_id: UserId::generate(),
        email: email.to_string(),
        name: Some("Sample".into()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: now(),
        provider: None,
    }
}

/// An account a federated sign-in made: no password, the provider's name.
pub fn sample_federated_user(email: &str, provider: &str) -> User {
    User {
        password_hash: String::new(),
        provider: Some(provider.to_string()),
        ..sample_user(email)
    }
}

/// What every [`UserStore`] must do.
pub async fn user_store_contract(store: &dyn UserStore) {
    // GIVEN a stored user
    let user = sample_user(&format!("{}@example.com", uuid::Uuid::new_v4()));
    store.create(&user).await.unwrap();
    // THEN it can be read by id and by email
    assert_eq!(
        store.get(&user.user_id).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(
        store.find_by_email(&user.email).await.unwrap().as_ref(),
        Some(&user)
    );
    // AND unknown ids and emails are simply absent
    assert_eq!(store.get(&"no-such-user".into()).await.unwrap(), None);
    assert_eq!(
        store.find_by_email("nobody@example.com").await.unwrap(),
        None
    );
    // WHEN another account claims the same email THEN it is a conflict and nothing changes
    let mut twin = sample_user(&user.email);
    twin.name = Some("Twin".into());
    let error = store.create(&twin).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Conflict {
                code: "email_taken",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(store.get(&twin.user_id).await.unwrap(), None);
    assert_eq!(
        store.find_by_email(&user.email).await.unwrap().as_ref(),
        Some(&user)
    );

    // WHEN a federated sign-in with the same email makes its account
    let federated = sample_federated_user(&user.email, "Google");
    store.create(&federated).await.unwrap();
    // THEN both accounts exist, never merged: the email still finds only the
    // password account, and the federated one is read by its id
    assert_eq!(
        store.get(&federated.user_id).await.unwrap().as_ref(),
        Some(&federated)
    );
    assert_eq!(
        store.find_by_email(&user.email).await.unwrap().as_ref(),
        Some(&user)
    );
    // AND a federated account alone is never found by email (no password to log in with)
    let alone = sample_federated_user(&format!("{}@example.com", uuid::Uuid::new_v4()), "Google");
    store.create(&alone).await.unwrap();
    assert_eq!(store.find_by_email(&alone.email).await.unwrap(), None);
    // AND a second first sign-in of the same identity is a conflict that changes nothing
    let again = User {
        name: Some("Again".into()),
        ..federated.clone()
    };
    let error = store.create(&again).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Conflict {
                code: "account_exists",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        store.get(&federated.user_id).await.unwrap().as_ref(),
        Some(&federated)
    );
}

/// What every [`TokenStore`] must do.
pub async fn token_store_contract(store: &dyn TokenStore) {
    let token_id = uuid::Uuid::new_v4().to_string();
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    // GIVEN a token that was never revoked THEN it is not revoked
    assert!(!store.is_revoked(&token_id).await.unwrap());
    // WHEN it is revoked (twice, as a retried logout would) THEN it stays revoked
    store.revoke(&token_id, in_an_hour).await.unwrap();
    store.revoke(&token_id, in_an_hour).await.unwrap();
    assert!(store.is_revoked(&token_id).await.unwrap());
    // AND other tokens are unaffected
    assert!(!store.is_revoked("another-token").await.unwrap());
}

#[derive(Default)]
pub struct MemoryUserStore {
    users: Mutex<HashMap<String, User>>,
}

impl MemoryUserStore {
    /// The stored account, read without the port (tests' own checks).
    pub fn get_now(&self, user_id: &UserId) -> Option<User> {
        self.users.lock().unwrap().get(user_id.as_str()).cloned()
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create(&self, user: &User) -> Result<()> {
        let mut users = self.users.lock().unwrap();
        if users.contains_key(user.user_id.as_str()) {
            return Err(Error::account_exists());
        }
        let password_account = |candidate: &User| candidate.provider.is_none();
        if password_account(user)
            && users
                .values()
                .any(|existing| password_account(existing) && existing.email == user.email)
        {
            return Err(Error::email_taken());
        }
        users.insert(user.user_id.to_string(), user.clone());
        Ok(())
    }

    async fn get(&self, user_id: &UserId) -> Result<Option<User>> {
        Ok(self.users.lock().unwrap().get(user_id.as_str()).cloned())
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let users = self.users.lock().unwrap();
        Ok(users
            .values()
            .find(|user| user.provider.is_none() && user.email == email)
            .cloned())
    }
}

#[derive(Default)]
pub struct MemoryTokenStore {
    revoked: Mutex<HashMap<String, i64>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn revoke(&self, token_id: &str, expires_at: i64) -> Result<()> {
        self.revoked
            .lock()
            .unwrap()
            .insert(token_id.to_string(), expires_at);
        Ok(())
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool> {
        Ok(self.revoked.lock().unwrap().contains_key(token_id))
    }
}

/// What every [`ObjectStore`] must do.
pub async fn object_store_contract(store: &dyn ObjectStore) {
    let key = format!(
        "documents/{}/{}/notes.txt",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    // GIVEN nothing stored THEN reading gives nothing and deleting is harmless
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(!store.exists(&key).await.unwrap());
    store.delete(&key).await.unwrap();
    // WHEN an object is stored THEN it reads back byte for byte
    let bytes = b"line one\nline two \xe2\x9c\x93".to_vec();
    store.put(&key, bytes.clone(), "text/plain").await.unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), Some(bytes));
    // AND storing again replaces it
    store.put(&key, b"v2".to_vec(), "text/plain").await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(b"v2".to_vec()));
    // AND presigned URLs name the key and pin the upload's type and size
    let upload = store
        .presign_upload(&key, "text/plain", 42, std::time::Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(upload.method, "PUT");
    assert!(upload.url.contains("notes.txt"), "{}", upload.url);
    assert_eq!(
        upload.headers.get("Content-Type").map(String::as_str),
        Some("text/plain")
    );
    let download = store
        .presign_download(&key, "notes.txt", std::time::Duration::from_secs(300))
        .await
        .unwrap();
    assert!(download.starts_with("http"), "{download}");
    // WHEN it is deleted THEN it is gone
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(!store.exists(&key).await.unwrap());
}

pub fn sample_document(user_id: &UserId, upload_date: &str) -> Document {
    let document_id = DocumentId::generate();
    Document {
        user_id: user_id.clone(),
        key: format!("documents/{user_id}/{document_id}/report.pdf"),
        document_id,
        file_name: "report.pdf".into(),
        content_type: "application/pdf".into(),
        size: 1234,
        status: DocumentStatus::Pending,
        status_reason: None,
        pages: None,
        chunks: None,
        upload_date: upload_date.to_string(),
        updated_at: upload_date.to_string(),
        attempts: 0,
    }
}

/// Quotas: what one owner may store holds, under concurrent creates too,
/// and a delete gives its place back.
async fn document_quota_contract(store: &dyn DocumentStore) {
    // GIVEN an owner allowed 2 documents and 3,000 bytes (each sample is 1,234)
    let owner = UserId::generate();
    let quota = Quota {
        documents: 2,
        bytes: 3_000,
    };
    let document = || sample_document(&owner, "2026-03-01T00:00:00.000Z");
    assert_eq!(store.usage(&owner).await.unwrap(), StorageUsage::default());
    let (first, second) = (document(), document());
    assert!(store.create(&first, &quota).await.unwrap());
    assert!(store.create(&second, &quota).await.unwrap());
    // WHEN a third is created THEN it is refused and nothing is written
    let third = document();
    assert!(!store.create(&third, &quota).await.unwrap());
    assert_eq!(store.get(&owner, &third.document_id).await.unwrap(), None);
    assert_eq!(
        store.usage(&owner).await.unwrap(),
        StorageUsage {
            documents: 2,
            bytes: 2_468
        }
    );
    // AND bytes count as well as documents
    let roomy = Quota {
        documents: 10,
        bytes: 3_000,
    };
    assert!(!store.create(&third, &roomy).await.unwrap());
    // WHEN one is deleted THEN its place is free again
    assert!(store.delete(&owner, &first.document_id).await.unwrap());
    assert_eq!(
        store.usage(&owner).await.unwrap(),
        StorageUsage {
            documents: 1,
            bytes: 1_234
        }
    );
    assert!(store.create(&third, &quota).await.unwrap());
    // AND twelve creates at once for five places take exactly five
    let racer = UserId::generate();
    let five = Quota {
        documents: 5,
        bytes: u64::MAX / 2,
    };
    let racing: Vec<Document> = (0..12)
        .map(|_| sample_document(&racer, "2026-03-02T00:00:00.000Z"))
        .collect();
    let won = futures::future::join_all(racing.iter().map(|d| store.create(d, &five)))
        .await
        .into_iter()
        .filter(|created| *created.as_ref().unwrap())
        .count();
    assert_eq!(won, 5);
    assert_eq!(store.usage(&racer).await.unwrap().documents, 5);
    // AND another owner's usage is their own
    assert_eq!(store.usage(&UserId::generate()).await.unwrap().documents, 0);
}

/// What every [`DocumentStore`] must do.
pub async fn document_store_contract(store: &dyn DocumentStore) {
    document_quota_contract(store).await;
    let owner = UserId::generate();
    let stranger = UserId::generate();
    // GIVEN three documents uploaded one after another, the first through an
    // upload URL whose file has not arrived yet
    let dates = [
        "2026-01-01T00:00:00.000Z",
        "2026-01-02T00:00:00.000Z",
        "2026-01-03T00:00:00.000Z",
    ];
    let mut documents: Vec<Document> = dates
        .iter()
        .map(|date| sample_document(&owner, date))
        .collect();
    documents[0].status = DocumentStatus::Uploading;
    for document in &documents {
        assert!(store.create(document, &Quota::UNLIMITED).await.unwrap());
    }
    // THEN each reads back, but only through its owner
    assert_eq!(
        store
            .get(&owner, &documents[0].document_id)
            .await
            .unwrap()
            .as_ref(),
        Some(&documents[0])
    );
    assert_eq!(
        store
            .get(&stranger, &documents[0].document_id)
            .await
            .unwrap(),
        None
    );
    // AND several read at once come in the order asked, without unknown
    // ids or another owner's
    let asked = [
        documents[2].document_id.clone(),
        DocumentId::generate(),
        documents[0].document_id.clone(),
    ];
    assert_eq!(
        store.get_many(&owner, &asked).await.unwrap(),
        vec![documents[2].clone(), documents[0].clone()]
    );
    assert!(store.get_many(&stranger, &asked).await.unwrap().is_empty());
    assert!(store.get_many(&owner, &[]).await.unwrap().is_empty());
    // AND they list newest first, two at a time
    let first = store.list(&owner, 2, None).await.unwrap();
    let ids = |page: &crate::model::Page<Document>| {
        page.items
            .iter()
            .map(|d| d.document_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&first),
        vec![
            documents[2].document_id.clone(),
            documents[1].document_id.clone()
        ]
    );
    let second = store.list(&owner, 2, first.next.as_ref()).await.unwrap();
    assert_eq!(ids(&second), vec![documents[0].document_id.clone()]);
    assert_eq!(second.next, None);
    assert!(store
        .list(&stranger, 10, None)
        .await
        .unwrap()
        .items
        .is_empty());

    // WHEN processing starts (the file arrived) THEN only one caller wins, and a stranger never does
    let id = &documents[0].document_id;
    let long_ago = "2000-01-01T00:00:00.000Z";
    let far_future = "2999-01-01T00:00:00.000Z";
    assert_eq!(
        store
            .start_processing(&stranger, id, long_ago)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.start_processing(&owner, id, long_ago).await.unwrap(),
        Some(1),
        "the first attempt is counted"
    );
    assert_eq!(
        store.start_processing(&owner, id, long_ago).await.unwrap(),
        None
    );
    let stored = store.get(&owner, id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.attempts),
        (DocumentStatus::Processing, 1)
    );
    // AND a run stuck since before the stale mark can be taken over, as a second attempt
    assert_eq!(
        store
            .start_processing(&owner, id, far_future)
            .await
            .unwrap(),
        Some(2)
    );

    // WHEN the run reports how far it got THEN that is its status reason
    store
        .report_progress(&owner, id, "reading scanned pages: 2 of 9")
        .await
        .unwrap();
    let stored = store.get(&owner, id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.status_reason.as_deref()),
        (
            DocumentStatus::Processing,
            Some("reading scanned pages: 2 of 9")
        )
    );

    // WHEN it finishes THEN status and counts are recorded, and the progress is gone
    let ready = ProcessingOutcome::Ready {
        pages: 3,
        chunks: 7,
        note: None,
    };
    assert!(store.finish_processing(&owner, id, &ready).await.unwrap());
    let stored = store.get(&owner, id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.pages, stored.chunks),
        (DocumentStatus::Ready, Some(3), Some(7))
    );
    assert_eq!(stored.status_reason, None);
    // AND progress reported after the run ended changes nothing
    store
        .report_progress(&owner, id, "reading scanned pages: 9 of 9")
        .await
        .unwrap();
    assert_eq!(
        store.get(&owner, id).await.unwrap().unwrap().status_reason,
        None
    );
    // AND a ready document may carry a note for its owner
    let noted = ProcessingOutcome::Ready {
        pages: 3,
        chunks: 7,
        note: Some("page 2 has no text layer and was not read".into()),
    };
    assert!(store.finish_processing(&owner, id, &noted).await.unwrap());
    let stored = store.get(&owner, id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.status_reason.as_deref()),
        (
            DocumentStatus::Ready,
            Some("page 2 has no text layer and was not read")
        )
    );
    assert_eq!(
        store.start_processing(&owner, id, long_ago).await.unwrap(),
        None,
        "ready documents are not reprocessed"
    );
    // AND a failure keeps its reason and clears old counts
    let failed = ProcessingOutcome::Failed {
        reason: "the PDF is damaged".into(),
    };
    assert!(store.finish_processing(&owner, id, &failed).await.unwrap());
    let stored = store.get(&owner, id).await.unwrap().unwrap();
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(stored.status_reason.as_deref(), Some("the PDF is damaged"));
    assert_eq!(stored.chunks, None);
    assert_eq!(
        store.start_processing(&owner, id, long_ago).await.unwrap(),
        Some(3),
        "failed documents can be retried"
    );

    // AND a run that died in `processing` can be found, and a live one is not reported
    let second = &documents[1].document_id;
    assert!(store
        .start_processing(&owner, second, long_ago)
        .await
        .unwrap()
        .is_some());
    let stuck = store
        .in_status_since(DocumentStatus::Processing, far_future, 100)
        .await
        .unwrap();
    assert!(
        stuck
            .iter()
            .any(|d| d.document_id == *second && d.user_id == owner && d.attempts == 1),
        "{stuck:?}"
    );
    assert!(store
        .in_status_since(DocumentStatus::Processing, long_ago, 100)
        .await
        .unwrap()
        .iter()
        .all(|d| d.document_id != *second));
    // AND pending uploads are found the same way
    let pending = store
        .in_status_since(DocumentStatus::Pending, far_future, 100)
        .await
        .unwrap();
    assert!(pending
        .iter()
        .any(|d| d.document_id == documents[2].document_id));
    assert!(pending.iter().all(|d| d.status == DocumentStatus::Pending));
    let done = ProcessingOutcome::Failed { reason: "x".into() };
    assert!(store
        .finish_processing(&owner, second, &done)
        .await
        .unwrap());

    // WHEN deleted THEN it is gone, only for its owner, and only once
    assert!(!store.delete(&stranger, id).await.unwrap());
    assert!(store.delete(&owner, id).await.unwrap());
    assert!(!store.delete(&owner, id).await.unwrap());
    assert_eq!(store.get(&owner, id).await.unwrap(), None);
    assert!(!store.finish_processing(&owner, id, &ready).await.unwrap());
}

fn unit_vector(dimensions: usize, axis: usize) -> Vec<f32> {
    let mut vector = vec![0.0; dimensions];
    vector[axis] = 1.0;
    vector
}

fn chunk(user_id: &str, document_id: &str, ordinal: u32, text: &str, axis: usize) -> Chunk {
    Chunk {
        user_id: user_id.into(),
        document_id: document_id.into(),
        ordinal,
        page: ordinal + 1,
        text: text.into(),
        embedding: unit_vector(8, axis),
        sentence_vectors: Default::default(),
    }
}

/// What every [`VectorIndex`] must do.
pub async fn vector_index_contract(index: &dyn VectorIndex) {
    let (alice, bob) = (UserId::generate(), UserId::generate());
    // GIVEN Alice has two documents and Bob one, with similar text
    index
        .upsert(&[
            chunk(&alice, "a1", 0, "The lighthouse keeper logs the tide.", 0),
            Chunk {
                // Processing gives local passages one vector per sentence.
                sentence_vectors: vec![unit_vector(8, 1), unit_vector(8, 3)],
                ..chunk(
                    &alice,
                    "a1",
                    1,
                    "Error code E-4012 means the pump stalled.",
                    1,
                )
            },
            chunk(&alice, "a2", 0, "Recipes for bread and butter.", 2),
            chunk(
                &bob,
                "b1",
                0,
                "Bob's lighthouse notes mention error E-4012 too.",
                0,
            ),
        ])
        .await
        .unwrap();
    let alice_all = SearchScope {
        user_id: alice.clone(),
        document_ids: None,
    };

    let search = |scope: SearchScope, axis: usize, text: &'static str, limit: usize| async move {
        let vector = unit_vector(8, axis);
        index
            .search(
                &scope,
                SearchQuery {
                    vector: &vector,
                    text,
                },
                limit,
            )
            .await
            .unwrap()
    };

    // THEN vector search ranks by similarity within Alice's chunks only
    let hits = search(alice_all.clone(), 0, "lighthouse", 10)
        .await
        .by_meaning;
    assert_eq!(hits.len(), 3);
    assert_eq!(
        (hits[0].document_id.as_str(), hits[0].ordinal, hits[0].page),
        ("a1", 0, 1)
    );
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    assert!(hits.iter().all(|hit| hit.document_id != "b1"));
    // AND the limit and a document restriction are honoured
    assert_eq!(
        search(alice_all.clone(), 0, "lighthouse", 1)
            .await
            .by_meaning
            .len(),
        1
    );
    let only_a2 = SearchScope {
        user_id: alice.clone(),
        document_ids: Some(vec!["a2".into()]),
    };
    let hits = search(only_a2.clone(), 0, "lighthouse", 10)
        .await
        .by_meaning;
    assert!(hits.iter().all(|hit| hit.document_id == "a2") && hits.len() == 1);

    // AND keyword search finds an exact rare term, again only Alice's
    let hits = search(alice_all.clone(), 0, "what does E-4012 mean?", 10)
        .await
        .by_words;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].document_id.as_str(), hits[0].ordinal), ("a1", 1));
    assert_eq!(hits[0].text, "Error code E-4012 means the pump stalled.");
    // AND sentence vectors come back as given (to int8 precision), or not at all
    // where the store does not keep them (the AWS stores; their answerer is Claude)
    let sentence_vectors = &hits[0].sentence_vectors;
    if !sentence_vectors.is_empty() {
        assert_eq!(sentence_vectors.len(), 2);
        for (kept, given) in sentence_vectors
            .iter()
            .zip([unit_vector(8, 1), unit_vector(8, 3)])
        {
            let similarity: f32 = kept.iter().zip(&given).map(|(a, b)| a * b).sum();
            assert!(
                similarity > 0.99,
                "sentence vector {kept:?} is not {given:?}"
            );
        }
    }
    assert!(search(only_a2.clone(), 0, "E-4012", 10)
        .await
        .by_words
        .is_empty());
    assert!(search(alice_all.clone(), 0, "the", 10)
        .await
        .by_words
        .is_empty());

    // WHEN a chunk is upserted again THEN it is replaced, not duplicated
    index
        .upsert(&[chunk(
            &alice,
            "a1",
            1,
            "Error code E-4012 means the pump stalled.",
            1,
        )])
        .await
        .unwrap();
    assert_eq!(index.count(&alice, &"a1".into()).await.unwrap(), 2);

    // WHEN a document is deleted THEN none of its chunks can be found
    index.delete_document(&alice, &"a1".into()).await.unwrap();
    assert_eq!(index.count(&alice, &"a1".into()).await.unwrap(), 0);
    let hits = search(alice_all.clone(), 0, "E-4012 lighthouse", 10).await;
    assert!(hits.by_words.iter().all(|hit| hit.document_id == "a2"));
    assert!(hits.by_meaning.iter().all(|hit| hit.document_id == "a2"));
    // AND Bob's chunks are untouched
    assert_eq!(index.count(&bob, &"b1".into()).await.unwrap(), 1);

    // WHEN a document is re-indexed shorter THEN no passage of the longer run remains
    let long: Vec<Chunk> = (0..5)
        .map(|ordinal| chunk(&alice, "a3", ordinal, "Tide tables for the harbour.", 3))
        .collect();
    index.upsert(&long).await.unwrap();
    index.delete_document(&alice, &"a3".into()).await.unwrap();
    index.upsert(&long[..2]).await.unwrap();
    assert_eq!(index.count(&alice, &"a3".into()).await.unwrap(), 2);
    index.delete_document(&alice, &"a3".into()).await.unwrap();
    assert_eq!(index.count(&alice, &"a3".into()).await.unwrap(), 0);
}

/// The request every generator is checked with: passage 2 holds the answer.
pub fn sample_generation_request() -> GenerationRequest {
    GenerationRequest {
        question: "What does error code E-4012 mean?".into(),
        question_vector: None,
        passages: vec![
            Passage {
                number: 1,
                file_name: "manual.pdf".into(),
                page: 1,
                text: "The keeper logs the tide every six hours. The lamp is lit at sunset.".into(),
                sentence_vectors: Default::default(),
            },
            Passage {
                number: 2,
                file_name: "manual.pdf".into(),
                page: 2,
                text: "Chapter 2. Error code E-4012 means the fog pump stalled. Close valve three to clear it.".into(),
                sentence_vectors: Default::default(),
            },
        ],
        history: vec![Turn { question: "Which manual is this?".into(), answer: "The lighthouse manual.".into() }],
        prompt: crate::model::ChatPrompt { system: String::new(), messages: Vec::new() },
        time_left: None,
    }
    .with_prompt()
}

impl GenerationRequest {
    /// The request with the prompt the query service would build for it.
    fn with_prompt(mut self) -> Self {
        self.prompt =
            crate::query::prompt::chat_prompt(&self.question, &self.passages, &self.history);
        self
    }
}

/// What every [`Generator`] must do: answer from the passages and cite only
/// passages that exist, including the one that holds the answer.
pub async fn generator_contract(generator: &dyn Generator) {
    let request = sample_generation_request();
    let generated = generator.generate(&request).await.unwrap();
    assert!(!generated.answer.trim().is_empty());
    assert!(!generated.model.is_empty());
    let cited = crate::query::citations::cited_passages(&generated.answer, 2);
    assert!(cited.contains(&2), "{generated:?}");
    assert!(
        generated
            .quotes
            .iter()
            .all(|quote| cited.contains(&quote.number)),
        "quotes belong to cited passages: {generated:?}"
    );

    // Streamed, the same answer arrives in pieces, which joined are the answer.
    let (written, mut pieces) = crate::ports::AnswerText::channel();
    let streamed = generator
        .generate_streaming(&request, &written)
        .await
        .unwrap();
    drop(written);
    let mut joined = String::new();
    while let Some(piece) = pieces.recv().await {
        assert!(!piece.is_empty(), "no empty pieces");
        joined.push_str(&piece);
    }
    assert_eq!(joined.trim(), streamed.answer, "{streamed:?}");
    assert!(
        crate::query::citations::cited_passages(&streamed.answer, 2).contains(&2),
        "{streamed:?}"
    );
    assert_eq!(streamed.model, generated.model);
}

fn history_entry(
    user_id: &str,
    conversation_id: &str,
    question: &str,
    created_at: &str,
) -> HistoryEntry {
    HistoryEntry {
        query_id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.into(),
        conversation_id: conversation_id.into(),
        question: question.into(),
        answer: format!("answer to {question}"),
        citations: vec![Citation {
            document_id: "doc-1".into(),
            file_name: "manual.pdf".into(),
            page: 2,
            snippet: "Error code E-4012 means the fog pump stalled.".into(),
            text: "Chapter 2. Error code E-4012 means the fog pump stalled.".into(),
            score: 0.75,
            document_deleted: false,
        }],
        model: "test-model".into(),
        created_at: created_at.into(),
    }
}

/// What every [`HistoryStore`] must do.
pub async fn history_store_contract(store: &dyn HistoryStore) {
    let (ada, bob) = (UserId::generate(), UserId::generate());
    let first = history_entry(&ada, "c1", "first", "2026-01-01T00:00:00.000Z");
    let second = history_entry(&ada, "c2", "second", "2026-01-02T00:00:00.000Z");
    let third = history_entry(&ada, "c1", "third", "2026-01-03T00:00:00.000Z");
    for entry in [
        &first,
        &second,
        &third,
        &history_entry(&bob, "c1", "bob's", "2026-01-04T00:00:00.000Z"),
    ] {
        store.append(entry).await.unwrap();
    }
    // THEN Ada's entries list newest first, whole, and never Bob's
    let all = store.list(&ada, None, 10, None).await.unwrap();
    assert_eq!(
        all.items,
        vec![third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(all.next, None);
    // AND one conversation can be listed alone
    let thread = store
        .list(&ada, Some(&"c1".into()), 10, None)
        .await
        .unwrap();
    assert_eq!(thread.items, vec![third.clone(), first.clone()]);
    // AND pages continue where they stopped
    let page = store.list(&ada, None, 2, None).await.unwrap();
    assert_eq!(page.items, vec![third, second]);
    let rest = store.list(&ada, None, 2, page.next.as_ref()).await.unwrap();
    assert_eq!(rest.items, vec![first]);
    assert_eq!(rest.next, None);
    // WHEN Ada deletes the cited document
    store.forget_document(&ada, &"doc-1".into()).await.unwrap();
    // THEN her answers stay, but no citation keeps its words
    let forgotten = store.list(&ada, None, 10, None).await.unwrap().items;
    assert_eq!(forgotten.len(), 3);
    for entry in &forgotten {
        let citation = &entry.citations[0];
        assert!(citation.document_deleted, "{citation:?}");
        assert_eq!(
            (citation.snippet.as_str(), citation.text.as_str()),
            ("", "")
        );
        assert_eq!(citation.file_name, "manual.pdf");
        assert!(entry.answer.starts_with("answer to"));
    }
    // AND Bob's history, which cites a document of the same id, is his own
    let bobs = store.list(&bob, None, 10, None).await.unwrap().items;
    assert!(!bobs[0].citations[0].text.is_empty());
    assert!(!bobs[0].citations[0].document_deleted);
    history_pages_through_large_entries(store).await;
}

/// Answers cite whole passages, so a user's history grows large: DynamoDB
/// ends a Query at 1 MB, whatever its limit. A user with 150 entries of
/// ~12 KB each (1.8 MB) pages through all 150, newest first, none twice.
async fn history_pages_through_large_entries(store: &dyn HistoryStore) {
    // GIVEN 150 entries whose citations carry long passages
    let user = UserId::generate();
    let passage = "The keeper logs the tide every six hours and checks the fog pump. ".repeat(180);
    let mut written = Vec::new();
    for n in 0..150 {
        let created_at = format!("2026-02-01T{:02}:{:02}:00.000Z", n / 60, n % 60);
        let mut entry = history_entry(&user, "long", &format!("question {n}"), &created_at);
        entry.citations[0].text = passage.clone();
        store.append(&entry).await.unwrap();
        written.push(entry.query_id);
    }
    // WHEN they are listed a full page (100) at a time, each page after the last
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(&user, None, 100, after.as_ref()).await.unwrap();
        assert!(
            !page.items.is_empty(),
            "a page with a next position is never empty"
        );
        listed.extend(page.items.into_iter().map(|entry| entry.query_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // THEN every entry comes once, newest first
    written.reverse();
    assert_eq!(listed.len(), 150, "{} entries listed", listed.len());
    assert_eq!(listed, written);
}

/// What every [`crate::ports::Embedder`] must do: one unit-length vector of the
/// stated size per text, in order; similar texts closer than unrelated ones.
pub async fn embedder_contract(embedder: &dyn crate::ports::Embedder) {
    let texts = vec![
        "The fog pump stalled.".to_string(),
        "The fog pump has stopped working.".to_string(),
        "Holidays are booked on the rota board.".to_string(),
    ];
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 3);
    for vector in &vectors {
        assert_eq!(vector.len(), embedder.dimensions());
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]));
    assert!(embedder.embed(&[]).await.unwrap().is_empty());
    assert!(!embedder.model_id().is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_adapters_pass_the_shared_suites() {
        user_store_contract(&MemoryUserStore::default()).await;
        token_store_contract(&MemoryTokenStore::default()).await;
    }
}
