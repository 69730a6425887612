//! The Bedrock rerank adapter (the SDK's own Agent Runtime client) against a
//! stand-in speaking Rerank's JSON protocol: no emulator serves it.

use askdocs_shared::aws::{AwsClients, BedrockReranker};
use askdocs_shared::error::Error;
use askdocs_shared::ports::Reranker;
use askdocs_shared::testing::rerank::{stand_in_relevance, RerankStandIn};

const QUESTION: &str = "How much do visiting boats pay per night in the harbour?";
const PASSAGES: [&str; 3] = [
    "Error code E-4012 means the fog pump stalled.",
    "Visiting boats pay 40 crowns per night in the harbour.",
    "The harbour master keeps the log of boats.",
];

fn reranker(stand_in: &RerankStandIn, model: &str) -> BedrockReranker {
    BedrockReranker::new(AwsClients::for_emulator(&stand_in.url), model)
}

#[tokio::test]
async fn each_passage_gets_the_models_relevance_in_the_order_given() {
    // GIVEN the Rerank stand-in and the adapter naming Amazon's rerank model by id
    let stand_in = RerankStandIn::start().await;

    // WHEN three passages are reranked for a question
    let relevance = reranker(&stand_in, "amazon.rerank-v1:0")
        .relevance(QUESTION, &PASSAGES)
        .await
        .unwrap();

    // THEN each passage has the model's score, in the order they were given
    let expected: Vec<f32> = PASSAGES
        .iter()
        .map(|passage| stand_in_relevance(QUESTION, passage))
        .collect();
    assert_eq!(relevance, expected);
    assert!(relevance[1] > relevance[2] && relevance[2] > relevance[0]);
    // AND one call carried the question, the passages inline and the model's
    // ARN in the client's Region (the emulator clients' eu-west-1)
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["queries"][0]["textQuery"]["text"], QUESTION);
    assert_eq!(
        request["sources"][1]["inlineDocumentSource"]["textDocument"]["text"],
        PASSAGES[1]
    );
    let configuration = &request["rerankingConfiguration"]["bedrockRerankingConfiguration"];
    assert_eq!(configuration["numberOfResults"], 3);
    assert_eq!(
        configuration["modelConfiguration"]["modelArn"],
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0"
    );
}

#[tokio::test]
async fn a_model_given_by_arn_is_named_as_given() {
    let stand_in = RerankStandIn::start().await;
    let arn = "arn:aws:bedrock:eu-central-1::foundation-model/cohere.rerank-v3-5:0";
    reranker(&stand_in, arn)
        .relevance(QUESTION, &PASSAGES)
        .await
        .unwrap();
    assert_eq!(
        stand_in.requests()[0]["rerankingConfiguration"]["bedrockRerankingConfiguration"]
            ["modelConfiguration"]["modelArn"],
        arn
    );
}

#[tokio::test]
async fn passages_the_model_leaves_out_rank_below_every_one_it_kept() {
    // GIVEN a model that returns only its best result
    let stand_in = RerankStandIn::start().await;
    stand_in.keep_only(1);

    let relevance = reranker(&stand_in, "amazon.rerank-v1:0")
        .relevance(QUESTION, &PASSAGES)
        .await
        .unwrap();

    assert_eq!(relevance.len(), 3);
    assert!(relevance[1] > 0.0);
    assert_eq!(relevance[0], f32::NEG_INFINITY);
    assert_eq!(relevance[2], f32::NEG_INFINITY);
}

#[tokio::test]
async fn nothing_to_rerank_makes_no_call() {
    let stand_in = RerankStandIn::start().await;
    let relevance = reranker(&stand_in, "amazon.rerank-v1:0")
        .relevance(QUESTION, &[])
        .await
        .unwrap();
    assert!(relevance.is_empty());
    assert!(stand_in.requests().is_empty());
}

#[tokio::test]
async fn a_refusal_is_an_error_and_throttling_one_to_retry_later() {
    // GIVEN a model the account may not use
    let stand_in = RerankStandIn::start().await;
    stand_in.refuse(403, "AccessDeniedException");
    let refused = reranker(&stand_in, "amazon.rerank-v1:0")
        .relevance(QUESTION, &PASSAGES)
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Internal(_)), "{refused:?}");

    // GIVEN a throttled account: the SDK retries, then it is a passing failure
    stand_in.refuse(429, "ThrottlingException");
    let throttled = reranker(&stand_in, "amazon.rerank-v1:0")
        .relevance(QUESTION, &PASSAGES)
        .await
        .unwrap_err();
    assert!(matches!(throttled, Error::Unavailable(_)), "{throttled:?}");
    assert!(stand_in.requests().len() > 2, "throttled calls are retried");
}
