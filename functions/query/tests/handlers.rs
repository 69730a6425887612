//! The query function driven by real API Gateway events from `events/`, over
//! documents uploaded and processed as in production, on the embedded backends
//! with the real embedding model and the extractive answerer.

use askdocs_query::{app, QueryState};
use askdocs_shared::aws::BedrockReranker;
use askdocs_shared::backends::Backends;
use askdocs_shared::model::NOT_FOUND_ANSWER;
use askdocs_shared::model::{Completion, Generated, GenerationRequest};
use askdocs_shared::model::{DocumentId, SearchScope};
use askdocs_shared::ports::{AnswerText, Generator};
use askdocs_shared::query::Asker;
use askdocs_shared::testing::harness::{
    embedded_backends, event, fixture, send, send_for_events, send_for_headers, signed_in,
    with_bearer, with_query,
};
use askdocs_shared::testing::rerank::{stand_in_relevance, RerankStandIn};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;

struct Harness {
    _data_dir: tempfile::TempDir,
    backends: Backends,
    state: QueryState,
}

struct User {
    id: askdocs_shared::model::UserId,
    token: String,
}

impl Harness {
    async fn new() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let backends = embedded_backends(data_dir.path(), &[]).await;
        Harness {
            state: QueryState::new(&backends).unwrap(),
            backends,
            _data_dir: data_dir,
        }
    }

    async fn user(&self, email: &str) -> User {
        let (id, token) = signed_in(&self.backends, email).await;
        User { id, token }
    }

    /// Uploads a fixture for the user and processes it as the S3 event would; returns its id.
    async fn document(&self, user: &User, fixture_name: &str, file_name: &str) -> DocumentId {
        self.document_with(user, fixture(fixture_name), file_name)
            .await
    }

    /// Uploads these bytes for the user and processes them; returns the document's id.
    async fn document_with(&self, user: &User, bytes: Vec<u8>, file_name: &str) -> DocumentId {
        let document = self
            .backends
            .documents()
            .unwrap()
            .upload(&user.id, file_name, None, bytes, u64::MAX)
            .await
            .unwrap();
        let processing = askdocs_processing::ProcessingState::new(&self.backends).unwrap();
        askdocs_processing::handle(
            &processing,
            askdocs_processing::object_created_event("askdocs-local", &document.key, 0),
        )
        .await
        .unwrap();
        document.document_id
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        send(&app(self.state.clone()), event).await
    }

    async fn ask(&self, user: &User, body: Value) -> (u16, Value) {
        let mut event = event("query-ask.json");
        event["body"] = json!(body.to_string());
        self.send(with_bearer(event, &user.token)).await
    }

    async fn history(&self, user: &User, query: Value) -> (u16, Value) {
        let event = with_query(event("query-history.json"), query);
        self.send(with_bearer(event, &user.token)).await
    }
}

fn cited(answer: &Value) -> Vec<(String, u64)> {
    answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["fileName"].as_str().unwrap().to_string(),
                c["page"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_question_is_answered_from_the_right_page_with_citations() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let manual = harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;
    harness
        .document(&ada, "handbook.docx", "handbook.docx")
        .await;

    // WHEN Ada asks what the pump error means (the committed event's question)
    let event = with_bearer(event("query-ask.json"), &ada.token);
    let (status, answer) = harness.send(event).await;

    // THEN the answer quotes page 2 of the manual and cites it
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["answer"]
            .as_str()
            .unwrap()
            .contains("fog pump stalled"),
        "{answer}"
    );
    let citation = &answer["citations"][0];
    assert_eq!(citation["documentId"], manual.as_str());
    assert_eq!(citation["fileName"], "Lighthouse manual.pdf");
    assert_eq!(citation["page"], 2);
    assert!(citation["snippet"].as_str().unwrap().contains("E-4012"));
    let score = citation["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");
    assert!(answer["queryId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(answer["conversationId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(answer["model"]
        .as_str()
        .unwrap()
        .contains("all-MiniLM-L6-v2"));
    // AND every [n] in the answer names one of the citations returned
    let text = answer["answer"].as_str().unwrap();
    let count = answer["citations"].as_array().unwrap().len();
    for n in 1..=9 {
        assert_eq!(text.contains(&format!("[{n}]")), n <= count, "{text}");
    }

    // AND another page answers another question
    let (_, answer) = harness
        .ask(
            &ada,
            json!({"question": "How much is the harbour fee per night?"}),
        )
        .await;
    assert_eq!(
        cited(&answer)[0],
        ("Lighthouse manual.pdf".to_string(), 3),
        "{answer}"
    );
    assert!(
        answer["answer"].as_str().unwrap().contains("40 crowns"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_answer_says_where_its_time_went() {
    // GIVEN Ada's manual
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;

    // WHEN she asks the committed event's question
    let event = with_bearer(event("query-ask.json"), &ada.token);
    let (status, headers, answer) = send_for_headers(&app(harness.state.clone()), event).await;

    // THEN a Server-Timing header gives each stage's milliseconds, and the
    // stages fit inside the total
    assert_eq!(status, 200, "{answer}");
    let timing = headers
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
        .expect("a Server-Timing header");
    let duration = |stage: &str| -> f64 {
        timing
            .split(", ")
            .find_map(|entry| entry.strip_prefix(&format!("{stage};dur=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {stage} in {timing}"))
    };
    let (embed, search, answer_ms, overhead, total) = (
        duration("embed"),
        duration("search"),
        duration("answer"),
        duration("overhead"),
        duration("total"),
    );
    assert!(embed > 0.0 && search > 0.0 && answer_ms > 0.0, "{timing}");
    assert!(embed + search + answer_ms <= total + 0.01, "{timing}");
    assert!(
        (total - embed - answer_ms - overhead).abs() < 0.02,
        "{timing}"
    );
}

#[tokio::test]
async fn an_unanswerable_question_says_so_and_cites_nothing() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness.document(&ada, "lighthouse.pdf", "manual.pdf").await;

    let (status, answer) = harness
        .ask(
            &ada,
            json!({"question": "What is the capital of Mongolia?"}),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(answer["answer"], NOT_FOUND_ANSWER);
    assert_eq!(answer["citations"], json!([]));

    // AND with no documents at all
    let newcomer = harness.user("new@example.com").await;
    let (_, answer) = harness
        .ask(
            &newcomer,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;
    assert_eq!(answer["answer"], NOT_FOUND_ANSWER);
    assert_eq!(answer["citations"], json!([]));
}

#[tokio::test]
async fn another_users_documents_are_never_cited() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let bob = harness.user("bob@example.com").await;
    harness
        .document(&ada, "handbook.docx", "handbook.docx")
        .await;
    let bobs = harness
        .document(&bob, "lighthouse.pdf", "bobs-manual.pdf")
        .await;

    // WHEN Ada asks about what only Bob's document says
    let (status, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;

    // THEN Bob's document is not cited and its text is not in the answer
    assert_eq!(status, 200);
    assert!(
        answer["citations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["documentId"] != bobs.as_str()),
        "{answer}"
    );
    assert!(
        !answer["answer"].as_str().unwrap().contains("fog pump"),
        "{answer}"
    );

    // AND naming Bob's document outright is a 404, exactly like a made-up id
    let (status, theirs) = harness
        .ask(&ada, json!({"question": "E-4012?", "documentIds": [bobs]}))
        .await;
    let (_, made_up) = harness
        .ask(
            &ada,
            json!({"question": "E-4012?", "documentIds": ["no-such-id"]}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(theirs["error"]["code"], "not_found");
    assert_eq!(made_up["error"]["code"], "not_found");
}

#[tokio::test]
async fn document_ids_restrict_the_search_and_deleted_documents_are_never_cited() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let manual = harness.document(&ada, "lighthouse.pdf", "manual.pdf").await;
    let handbook = harness
        .document(&ada, "handbook.docx", "handbook.docx")
        .await;

    let (_, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?", "documentIds": [handbook]}),
        )
        .await;
    assert_eq!(answer["answer"], NOT_FOUND_ANSWER, "{answer}");

    harness
        .backends
        .documents()
        .unwrap()
        .delete(&ada.id, &manual)
        .await
        .unwrap();
    let (_, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;
    assert!(answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["documentId"] != manual.as_str()));
    assert_eq!(answer["answer"], NOT_FOUND_ANSWER, "{answer}");
}

#[tokio::test]
async fn the_keyword_path_finds_a_rare_term_the_vector_path_alone_misses() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "maintenance-log.txt", "maintenance-log.txt")
        .await;
    let question = "VX-88217";

    // GIVEN the vector path alone: the passage naming the part is not found relevant
    let vector = harness
        .backends
        .embedder()
        .unwrap()
        .embed(&[question.to_string()])
        .await
        .unwrap()
        .remove(0);
    let scope = SearchScope {
        user_id: ada.id.clone(),
        document_ids: None,
    };
    let query = askdocs_shared::ports::SearchQuery {
        vector: &vector,
        text: question,
    };
    let by_meaning = harness
        .backends
        .vector_index()
        .unwrap()
        .search(&scope, query, 5)
        .await
        .unwrap()
        .by_meaning;
    let min_relevance = askdocs_shared::config::RetrievalSettings::default().min_relevance;
    let vector_finds_it = by_meaning
        .iter()
        .any(|hit| hit.text.contains("VX-88217") && hit.score >= min_relevance);
    assert!(
        !vector_finds_it,
        "the vector path alone should miss it: {by_meaning:?}"
    );

    // WHEN the user asks for it
    let (status, answer) = harness.ask(&ada, json!({"question": question})).await;

    // THEN hybrid retrieval finds and cites the entry
    assert_eq!(status, 200);
    assert!(
        answer["answer"].as_str().unwrap().contains("VX-88217"),
        "{answer}"
    );
    assert!(
        answer["citations"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("VX-88217"),
        "{answer}"
    );
}

#[tokio::test]
async fn history_lists_what_was_asked_newest_first_and_only_the_callers() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let bob = harness.user("bob@example.com").await;
    harness.document(&ada, "lighthouse.pdf", "manual.pdf").await;

    let (_, first) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;
    let conversation = first["conversationId"].as_str().unwrap().to_string();
    let (_, second) = harness
        .ask(
            &ada,
            json!({"question": "How do I clear it?", "conversationId": conversation}),
        )
        .await;
    assert_eq!(second["conversationId"], conversation.as_str());
    let (_, third) = harness
        .ask(&ada, json!({"question": "Who is the harbour master?"}))
        .await;
    assert_ne!(third["conversationId"], conversation.as_str());
    harness
        .ask(&bob, json!({"question": "Bob's private question"}))
        .await;

    // THEN Ada's history is her three questions, newest first, with their answers and citations
    let (status, history) = harness.history(&ada, json!({})).await;
    assert_eq!(status, 200);
    let questions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        questions,
        vec![
            "Who is the harbour master?",
            "How do I clear it?",
            "What does error code E-4012 mean?"
        ]
    );
    let oldest = &history["items"][2];
    assert_eq!(oldest["queryId"], first["queryId"]);
    assert_eq!(oldest["answer"], first["answer"]);
    assert_eq!(oldest["citations"], first["citations"]);
    assert!(oldest["createdAt"].as_str().is_some());

    // AND the follow-up in the conversation was answered about the pump (the earlier turn counted)
    assert!(
        second["answer"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("valve"),
        "{second}"
    );

    // AND one conversation, and pages, can be asked for
    let (_, thread) = harness
        .history(&ada, json!({"conversationId": conversation}))
        .await;
    assert_eq!(thread["items"].as_array().unwrap().len(), 2);
    let (_, page) = harness.history(&ada, json!({"limit": "2"})).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, rest) = harness
        .history(&ada, json!({"limit": "2", "cursor": cursor}))
        .await;
    assert_eq!(
        rest["items"][0]["question"],
        "What does error code E-4012 mean?"
    );
    assert_eq!(rest["nextCursor"], Value::Null);

    // AND Bob sees only his own
    let (_, bobs) = harness.history(&bob, json!({})).await;
    assert_eq!(bobs["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_questions_get_clear_errors_and_are_not_recorded() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let cases = [
        (json!({"question": ""}), "validation_failed"),
        (json!({"question": "   "}), "validation_failed"),
        (json!({"question": "\u{0}\u{0}\u{0}"}), "validation_failed"),
        (
            json!({"question": " \u{200B}\u{202E} "}),
            "validation_failed",
        ),
        (json!({"question": "x".repeat(2001)}), "validation_failed"),
        (json!({"question": 42}), "invalid_request"),
        (json!({"question": ["a"]}), "invalid_request"),
        (json!({}), "invalid_request"),
        (json!({"question": "ok?", "topK": 0}), "validation_failed"),
        (json!({"question": "ok?", "topK": 21}), "validation_failed"),
        (
            json!({"question": "ok?", "topK": "five"}),
            "invalid_request",
        ),
        (
            json!({"question": "ok?", "documentIds": []}),
            "validation_failed",
        ),
        (
            json!({"question": "ok?", "conversationId": "has spaces"}),
            "validation_failed",
        ),
        (
            json!({"question": "ok?", "userId": "someone-else"}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let (status, response) = harness.ask(&ada, body.clone()).await;
        assert_eq!(status, 400, "{body:.80}: {response}");
        assert_eq!(response["error"]["code"], code, "{body:.80}");
    }
    let (_, history) = harness.history(&ada, json!({})).await;
    assert_eq!(history["items"], json!([]));
    for query in [
        json!({"limit": "0"}),
        json!({"cursor": "nope"}),
        json!({"conversationId": "a b"}),
    ] {
        let (status, _) = harness.history(&ada, query).await;
        assert_eq!(status, 400);
    }
}

/// A harbour FAQ: a contents list repeating every question, a section about
/// mooring permits throughout, and the entry that says what one is.
fn harbour_faq() -> String {
    let contents = [
        "1 What is a mooring permit?",
        "2 How are berths assigned in summer?",
        "3 Who collects the harbour fees?",
        "4 When is the fuel dock open?",
        "5 How do I renew a mooring permit?",
        "6 Where can visitors leave a dinghy?",
    ]
    .map(|line| format!("{line} . . . . . . . . . . . . . . . . . . 3"))
    .join("\n");
    format!(
        "Harbour of Tresk: questions and answers\n\nContents\n\n{contents}\n\n\
         Renewing mooring permits\n\n\
         Mooring permits run from April to March. The harbour office sends a renewal form \
         to every holder of a mooring permit in February. Return the form with the boat's \
         insurance certificate before the first of April, or the mooring may be offered to the \
         next boat on the waiting list. Holders who sell their boat must tell the office within \
         a month; the permit does not pass to the buyer. A holder may keep a mooring permit for \
         a replacement boat of similar length. Permits for moorings in the inner basin cost more \
         than those in the outer roads, because the inner basin is sheltered in winter gales.\n\n\
         Berths in summer\n\n\
         Berths along the east quay are assigned each May by lot among the boats on the list. \
         Visiting yachts take the west pontoon for up to five nights and report to the office on \
         arrival. The fuel dock opens at seven in the morning and closes at eight in the evening \
         from May to September, and at noon in the rest of the year. The harbour master collects \
         the harbour fees at the office beside the fuel dock; cash and cards are both accepted. \
         Dinghies of visitors may be left on the rack behind the slipway for the length of the \
         stay, marked with the yacht's name.\n\n\
         Mooring permit\n\n\
         A mooring permit is the yearly licence that lets one named boat lie on one of the \
         harbour's swinging buoys. It is issued by the harbour office to the boat's owner and \
         names the buoy, the boat and its length.\n"
    )
}

#[tokio::test]
async fn the_passage_that_answers_comes_before_those_that_only_share_the_words() {
    // GIVEN Ada's harbour FAQ, whose contents list repeats the question and
    // whose renewal section talks about mooring permits throughout
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness
        .document_with(&ada, harbour_faq().into_bytes(), "harbour-faq.txt")
        .await;

    // WHEN she searches for what a mooring permit is
    let passages = harness
        .state
        .asker
        .search(&ada.id, "What is a mooring permit?", 5)
        .await
        .unwrap();

    // THEN the first passage is the entry that says what one is
    assert!(passages.len() > 1, "{passages:?}");
    assert!(
        passages[0]
            .text
            .contains("A mooring permit is the yearly licence"),
        "{passages:#?}"
    );
}

#[tokio::test]
async fn documents_still_being_processed_are_mentioned_in_the_answer() {
    // GIVEN Ada has one processed manual, one upload not processed yet, and
    // an upload URL she never used
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness.document(&ada, "lighthouse.pdf", "manual.pdf").await;
    let mut ticket =
        askdocs_shared::testing::sample_document(&ada.id, &askdocs_shared::model::now());
    ticket.status = askdocs_shared::model::DocumentStatus::Uploading;
    assert!(harness
        .backends
        .document_store()
        .create(&ticket, &askdocs_shared::config::Quota::UNLIMITED)
        .await
        .unwrap());
    let waiting = harness
        .backends
        .documents()
        .unwrap()
        .upload(
            &ada.id,
            "notes.txt",
            None,
            b"The harbour fee is ten crowns.".to_vec(),
            u64::MAX,
        )
        .await
        .unwrap();

    // WHEN she asks a question
    let (status, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;

    // THEN the answer comes from the ready manual and says one document (the
    // one whose file arrived) is not searched yet
    assert_eq!(status, 200);
    assert_eq!(answer["stillProcessing"], 1, "{answer}");
    let text = answer["answer"].as_str().unwrap();
    assert!(text.contains("fog pump stalled"), "{text}");
    assert!(
        text.ends_with("(1 document is still being processed; its text is not searched yet.)"),
        "{text}"
    );

    // AND asking only the ready manual mentions nothing
    let manual = answer["citations"][0]["documentId"].clone();
    let (_, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?", "documentIds": [manual]}),
        )
        .await;
    assert!(answer.get("stillProcessing").is_none(), "{answer}");

    // AND once it is processed, nothing is mentioned either
    let processing = askdocs_processing::ProcessingState::new(&harness.backends).unwrap();
    askdocs_processing::handle(
        &processing,
        askdocs_processing::object_created_event("askdocs-local", &waiting.key, 0),
    )
    .await
    .unwrap();
    let (_, answer) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;
    assert!(answer.get("stillProcessing").is_none(), "{answer}");
    assert!(!answer["answer"]
        .as_str()
        .unwrap()
        .contains("still being processed"));
}

/// A language model that takes longer than any ask may wait.
struct SlowModel;

#[async_trait::async_trait]
impl askdocs_shared::ports::Generator for SlowModel {
    async fn generate(
        &self,
        _request: &askdocs_shared::model::GenerationRequest,
    ) -> askdocs_shared::Result<askdocs_shared::model::Generated> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        unreachable!("the ask's deadline ends it first")
    }

    fn model_id(&self) -> &str {
        "slow-model"
    }
}

#[tokio::test]
async fn an_answer_that_outlasts_the_asks_deadline_is_a_clear_504_and_saves_nothing() {
    // GIVEN asks limited to 3 s, a slow model, and Ada's manual
    let data_dir = tempfile::tempdir().unwrap();
    let backends =
        embedded_backends(data_dir.path(), &[("ASKDOCS_ASK_DEADLINE_SECONDS", "3")]).await;
    let mut state = QueryState::new(&backends).unwrap();
    state.asker = std::sync::Arc::new(askdocs_shared::query::Asker::new(
        backends.document_store(),
        backends.vector_index().unwrap(),
        backends.embedder().unwrap(),
        std::sync::Arc::new(SlowModel),
        backends.history_store(),
        backends.config().retrieval,
    ));
    let harness = Harness {
        _data_dir: data_dir,
        backends,
        state,
    };
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;

    // WHEN she asks
    let started = std::time::Instant::now();
    let (status, body) = harness
        .ask(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;

    // THEN the ask ends at its deadline with a 504 that says so
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "timeout");
    assert!(body["error"]["message"].as_str().unwrap().contains("time"));
    // AND nothing of it is in her history
    let (status, history) = harness.history(&ada, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(history["items"], json!([]));
}

impl Harness {
    async fn ask_for_events(
        &self,
        user: &User,
        body: Value,
    ) -> (u16, axum::http::HeaderMap, Vec<(String, Value)>) {
        let mut event = event("query-ask.json");
        event["body"] = json!(body.to_string());
        send_for_events(&app(self.state.clone()), with_bearer(event, &user.token)).await
    }

    /// The harness answering with `generator` instead of the extractive answerer.
    fn answering_with(mut self, generator: Arc<dyn Generator>) -> Self {
        self.state.asker = Arc::new(Asker::new(
            self.backends.document_store(),
            self.backends.vector_index().unwrap(),
            self.backends.embedder().unwrap(),
            generator,
            self.backends.history_store(),
            self.backends.config().retrieval,
        ));
        self
    }
}

fn event_names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn an_answer_asked_for_as_events_streams_citations_then_text_then_where_it_was_filed() {
    // GIVEN Ada's manual
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    let manual = harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;

    // WHEN she asks with Accept: text/event-stream
    let (status, headers, events) = harness
        .ask_for_events(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;

    // THEN the answer comes as server-sent events, never cached
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");
    // AND first the passages retrieved, with their text, then the answer's
    // sentences, then one `done`
    let names = event_names(&events);
    assert_eq!(names.first(), Some(&"citations"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names[1..names.len() - 1]
        .iter()
        .all(|name| *name == "answer"));
    assert!(names.len() >= 3, "{names:?}");
    let sources = &events[0].1;
    let conversation_id = sources["conversationId"].as_str().unwrap();
    let first = &sources["citations"][0];
    assert_eq!(first["documentId"], manual.as_str());
    assert!(
        first["text"].as_str().unwrap().contains("E-4012"),
        "{first}"
    );
    // AND the streamed text is the answer, citing the passages by their
    // place in the first event
    let streamed: String = events[1..events.len() - 1]
        .iter()
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    assert!(streamed.contains("fog pump stalled"), "{streamed}");
    let count = sources["citations"].as_array().unwrap().len();
    for n in askdocs_shared::query::citations::cited_passages(&streamed, 99) {
        assert!(n <= count, "[{n}] of {count}: {streamed}");
    }
    // AND `done` carries where it was filed, and the answer as the JSON
    // answer would have given it
    let done = &events.last().unwrap().1;
    assert_eq!(done["conversationId"], conversation_id);
    let query_id = done["queryId"].as_str().unwrap();
    assert!(done["answer"]
        .as_str()
        .unwrap()
        .contains("fog pump stalled"));
    assert_eq!(done["citations"][0]["documentId"], manual.as_str());
    assert!(done["serverTiming"]
        .as_str()
        .unwrap()
        .contains("total;dur="));
    // AND her history holds the whole answer under that id
    let (_, history) = harness.history(&ada, json!({})).await;
    assert_eq!(history["items"][0]["queryId"], query_id);
    assert_eq!(history["items"][0]["answer"], done["answer"]);
}

#[tokio::test]
async fn a_bad_question_asked_for_as_events_is_a_json_error_and_records_nothing() {
    let harness = Harness::new().await;
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;
    for (body, status, code) in [
        (json!({"question": "   "}), 400, "validation_failed"),
        (
            json!({"question": "Why?", "topK": 0}),
            400,
            "validation_failed",
        ),
        (
            json!({"question": "Why?", "documentIds": ["0f0e0d0c-0000-4000-8000-000000000000"]}),
            404,
            "not_found",
        ),
    ] {
        // WHEN the question is wrong before any answer could be written
        let (got, headers, events) = harness.ask_for_events(&ada, body.clone()).await;
        // THEN it is the usual JSON error, not a stream
        assert_eq!(got, status, "{body}: {events:?}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(events[0].1["error"]["code"], code, "{body}");
    }
    // AND nothing was recorded
    let (_, history) = harness.history(&ada, json!({})).await;
    assert_eq!(history["items"], json!([]));
}

/// A model writing its answer a piece at a time, counting what it wrote.
struct PacedModel {
    pieces: usize,
    written: Arc<AtomicUsize>,
    fail_after: Option<usize>,
}

#[async_trait::async_trait]
impl Generator for PacedModel {
    async fn generate(&self, request: &GenerationRequest) -> askdocs_shared::Result<Generated> {
        let (written, mut pieces) = AnswerText::channel();
        let generated = self.generate_streaming(request, &written).await?;
        drop(written);
        while pieces.recv().await.is_some() {}
        Ok(generated)
    }

    async fn generate_streaming(
        &self,
        _request: &GenerationRequest,
        written: &AnswerText,
    ) -> askdocs_shared::Result<Generated> {
        let mut answer = String::new();
        for number in 0..self.pieces {
            if self.fail_after == Some(number) {
                return Err(askdocs_shared::Error::Unavailable(anyhow::anyhow!(
                    "the model stream broke off (secret detail)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let piece = format!("word{number} ");
            written.send(&piece).await?;
            answer.push_str(&piece);
            self.written.fetch_add(1, Ordering::SeqCst);
        }
        answer.push_str("[1]");
        written.send("[1]").await?;
        Ok(Generated {
            answer,
            quotes: Vec::new(),
            model: "paced-model".into(),
            completion: Completion::Complete,
        })
    }

    fn model_id(&self) -> &str {
        "paced-model"
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_answer_stops_the_generation_and_files_nothing() {
    // GIVEN a model that writes 100 pieces, 20 ms apart, and Ada's manual
    let written = Arc::new(AtomicUsize::new(0));
    let harness = Harness::new().await.answering_with(Arc::new(PacedModel {
        pieces: 100,
        written: written.clone(),
        fail_after: None,
    }));
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;

    // WHEN she asks for events, reads until the answer starts, then hangs up
    let mut event = with_bearer(event("query-ask.json"), &ada.token);
    event["headers"]["Accept"] = json!("text/event-stream");
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = app(harness.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut read = String::new();
    while !read.contains("event: answer") {
        let frame = body.frame().await.unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            read.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    assert!(read.starts_with("event: citations"), "{read}");
    drop(body);

    // THEN the model writes no more
    let at_hang_up = written.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = written.load(Ordering::SeqCst);
    assert!(later <= at_hang_up + 1, "{at_hang_up} then {later}");
    assert!(later < 10, "{later} of 100 pieces written");
    // AND no history item was written, whole or half, even after the time
    // the whole answer would have taken (100 x 20 ms)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, history) = harness.history(&ada, json!({})).await;
    assert_eq!(history["items"], json!([]));
}

#[tokio::test]
async fn a_failure_mid_answer_ends_the_stream_with_an_error_event_and_files_nothing() {
    // GIVEN a model whose stream breaks off after 3 pieces
    let harness = Harness::new().await.answering_with(Arc::new(PacedModel {
        pieces: 10,
        written: Arc::new(AtomicUsize::new(0)),
        fail_after: Some(3),
    }));
    let ada = harness.user("ada@example.com").await;
    harness
        .document(&ada, "lighthouse.pdf", "Lighthouse manual.pdf")
        .await;

    // WHEN she asks for events
    let (status, _, events) = harness
        .ask_for_events(
            &ada,
            json!({"question": "What does error code E-4012 mean?"}),
        )
        .await;

    // THEN the stream has begun (200), shows what was written, and ends with
    // an error event coded as a JSON error, its detail kept from her
    assert_eq!(status, 200);
    assert_eq!(
        event_names(&events),
        ["citations", "answer", "answer", "answer", "error"]
    );
    let error = &events.last().unwrap().1["error"];
    assert_eq!(error["code"], "service_unavailable");
    assert!(!error["message"].as_str().unwrap().contains("secret"));
    // AND nothing was filed
    let (_, history) = harness.history(&ada, json!({})).await;
    assert_eq!(history["items"], json!([]));
}

impl Harness {
    /// The harness with a Bedrock rerank model (served by `stand_in`)
    /// ordering the passages, as `BEDROCK_RERANK_MODEL_ID` sets it up on AWS.
    fn reranking_with(mut self, stand_in: &RerankStandIn) -> Self {
        let reranker = BedrockReranker::new(
            askdocs_shared::aws::AwsClients::for_emulator(&stand_in.url),
            "amazon.rerank-v1:0",
        );
        self.state.asker = Arc::new(
            Asker::new(
                self.backends.document_store(),
                self.backends.vector_index().unwrap(),
                self.backends.embedder().unwrap(),
                self.backends.generator().unwrap(),
                self.backends.history_store(),
                self.backends.config().retrieval,
            )
            .with_reranker(Arc::new(reranker)),
        );
        self
    }
}

#[tokio::test]
async fn a_rerank_model_chooses_which_passages_answer_and_their_order() {
    // GIVEN Ada's harbour FAQ and the query function with a rerank model
    let stand_in = RerankStandIn::start().await;
    let harness = Harness::new().await.reranking_with(&stand_in);
    let ada = harness.user("ada@example.com").await;
    harness
        .document_with(&ada, harbour_faq().into_bytes(), "harbour-faq.txt")
        .await;
    let question = "Who collects the harbour fees, and where?";

    // WHEN she asks from the best two passages
    let (status, answer) = harness
        .ask(&ada, json!({"question": question, "topK": 2}))
        .await;

    // THEN the model was asked once, about more passages than the two kept
    assert_eq!(status, 200, "{answer}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["queries"][0]["textQuery"]["text"], question);
    let offered: Vec<String> = requests[0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| {
            source["inlineDocumentSource"]["textDocument"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(offered.len() > 2, "{offered:?}");
    // AND the answer is from the two it scored highest, best first
    let mut by_model = offered.clone();
    by_model.sort_by(|a, b| {
        stand_in_relevance(question, b).total_cmp(&stand_in_relevance(question, a))
    });
    let kept = harness
        .state
        .asker
        .search(&ada.id, question, 2)
        .await
        .unwrap();
    let kept: Vec<&str> = kept.iter().map(|passage| passage.text.as_str()).collect();
    assert_eq!(kept, [by_model[0].as_str(), by_model[1].as_str()]);
    for citation in answer["citations"].as_array().unwrap() {
        let quoted = citation["text"].as_str().unwrap_or_default();
        assert!(
            kept.iter()
                .any(|passage| passage.contains(quoted.trim_end_matches('…'))),
            "{citation}"
        );
    }
    assert!(
        answer["answer"]
            .as_str()
            .unwrap()
            .contains("harbour master"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_rerank_model_that_fails_leaves_retrievals_order_and_the_answer() {
    // GIVEN a rerank model the account may not use, and the same FAQ without one
    let stand_in = RerankStandIn::start().await;
    stand_in.refuse(403, "AccessDeniedException");
    let reranked = Harness::new().await.reranking_with(&stand_in);
    let plain = Harness::new().await;
    let question = "When is the fuel dock open?";
    let mut answers = Vec::new();
    for harness in [&reranked, &plain] {
        let ada = harness.user("ada@example.com").await;
        harness
            .document_with(&ada, harbour_faq().into_bytes(), "harbour-faq.txt")
            .await;
        // WHEN Ada asks
        let (status, answer) = harness.ask(&ada, json!({"question": question})).await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    // THEN the refusal cost nothing but the reranking: the same answer, the same citations
    assert_eq!(stand_in.requests().len(), 1);
    assert_eq!(answers[0]["answer"], answers[1]["answer"]);
    assert_eq!(cited(&answers[0]), cited(&answers[1]));
    assert!(
        answers[0]["answer"].as_str().unwrap().contains("seven"),
        "{}",
        answers[0]
    );
}
