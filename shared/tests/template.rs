//! template.yaml and the code agree: the tables `askdocs bootstrap-aws` makes
//! (and the tests' emulator runs on) are exactly the ones the stack declares —
//! keys, attribute types, indexes and their projections, TTL — and the S3
//! Vectors index holds the metadata the adapter writes.

use askdocs_shared::aws::bootstrap::{tables, IndexSpec, NON_FILTERABLE_METADATA};
use askdocs_shared::testing::harness::{config_from, workspace};
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// (hash, range) of a KeySchema list.
fn keys(schema: &Value) -> (String, Option<String>) {
    let mut hash = None;
    let mut range = None;
    for key in schema.as_sequence().expect("KeySchema is a list") {
        let name = text(&key["AttributeName"]).to_string();
        match text(&key["KeyType"]) {
            "HASH" => hash = Some(name),
            "RANGE" => range = Some(name),
            other => panic!("key type {other}"),
        }
    }
    (hash.expect("a HASH key"), range)
}

#[test]
fn the_bootstrapped_tables_are_the_templates_tables() {
    let template = template();
    let settings = config_from(&askdocs_shared::testing::harness::aws_settings());
    let askdocs_shared::config::Backend::Aws(aws) = &settings.backend else {
        panic!("AWS settings expected")
    };
    for spec in tables(aws) {
        let table = &template["Resources"][spec.resource];
        assert_eq!(
            text(&table["Type"]),
            "AWS::DynamoDB::Table",
            "{}",
            spec.resource
        );
        let properties = &table["Properties"];
        assert_eq!(text(&properties["BillingMode"]), "PAY_PER_REQUEST");
        assert_eq!(
            keys(&properties["KeySchema"]),
            (spec.hash.to_string(), spec.range.map(str::to_string)),
            "{} key schema",
            spec.resource
        );
        let mut declared: Vec<(String, String)> = properties["AttributeDefinitions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    text(&a["AttributeName"]).to_string(),
                    text(&a["AttributeType"]).to_string(),
                )
            })
            .collect();
        declared.sort();
        let expected: Vec<(String, String)> = spec
            .key_attributes()
            .into_iter()
            .map(|name| (name.to_string(), "S".to_string()))
            .collect();
        assert_eq!(declared, expected, "{} attributes", spec.resource);
        let mut indexes: Vec<IndexSpec> = properties["GlobalSecondaryIndexes"]
            .as_sequence()
            .map(|list| list.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|index| {
                let (hash, range) = keys(&index["KeySchema"]);
                let name = text(&index["IndexName"]);
                let spec_index = spec
                    .indexes
                    .iter()
                    .find(|candidate| candidate.name == name)
                    .unwrap_or_else(|| {
                        panic!("{}: index {name} is not bootstrapped", spec.resource)
                    });
                assert_eq!(
                    (hash.as_str(), range.as_deref()),
                    (spec_index.hash, spec_index.range),
                    "{name} keys"
                );
                assert_eq!(
                    text(&index["Projection"]["ProjectionType"]),
                    spec_index.projection,
                    "{name} projection"
                );
                spec_index.clone()
            })
            .collect();
        indexes.sort_by_key(|index| index.name);
        let mut expected_indexes = spec.indexes.clone();
        expected_indexes.sort_by_key(|index| index.name);
        assert_eq!(indexes, expected_indexes, "{} indexes", spec.resource);
        let ttl = &properties["TimeToLiveSpecification"];
        match spec.ttl {
            Some(attribute) => {
                assert_eq!(text(&ttl["AttributeName"]), attribute);
                assert_eq!(ttl["Enabled"], Value::Bool(true));
            }
            None => assert!(
                ttl.is_null(),
                "{} has a TTL the bootstrap lacks",
                spec.resource
            ),
        }
    }
}

#[test]
fn the_vector_index_holds_what_the_adapter_writes() {
    let template = template();
    let index = &template["Resources"]["VectorIndex"]["Properties"];
    assert_eq!(text(&index["DataType"]), "float32");
    assert_eq!(text(&index["DistanceMetric"]), "cosine");
    let keys: Vec<&str> = index["MetadataConfiguration"]["NonFilterableMetadataKeys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(keys, NON_FILTERABLE_METADATA);
}

#[test]
fn the_answer_model_follows_the_region_as_the_template_maps_it() {
    // GIVEN the Region → inference profile mapping the stack deploys with
    let template = template();
    let mapping = template["Mappings"]["AnswerInferenceProfile"]
        .as_mapping()
        .expect("template.yaml maps Regions to inference profiles");
    assert!(mapping.len() > 20, "{mapping:?}");
    for (region, entry) in mapping {
        let region = text(region);
        // THEN the functions, left to choose the model themselves, pick the same profile
        assert_eq!(
            askdocs_shared::config::inference_profile_prefix(region),
            text(&entry["Prefix"]),
            "{region}"
        );
    }
    // AND in us-east-1 with the defaults that is the US profile of Claude Haiku 4.5
    let config = config_from(&[("AWS_REGION", "us-east-1".to_string())]);
    assert_eq!(
        config.models.bedrock.generation_model_id,
        "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    );
}

#[test]
fn the_query_function_may_stream_its_answers_from_the_model() {
    // GIVEN the query function's policy
    let template = template();
    let statements = template["Resources"]["QueryFunctionRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("the query role has statements")
        .clone();
    // THEN every statement granting the answer model also grants
    // ConverseStream (bedrock:InvokeModelWithResponseStream)
    let answer_grants: Vec<&Value> = statements
        .iter()
        .filter(|statement| {
            statement["Sid"]
                .as_str()
                .is_some_and(|sid| sid.starts_with("AnswerModel"))
        })
        .collect();
    assert_eq!(answer_grants.len(), 2, "{statements:?}");
    for statement in answer_grants {
        let actions: Vec<&str> = statement["Action"]
            .as_sequence()
            .expect("a list of actions")
            .iter()
            .map(text)
            .collect();
        assert!(
            actions.contains(&"bedrock:InvokeModel")
                && actions.contains(&"bedrock:InvokeModelWithResponseStream"),
            "{actions:?}"
        );
    }
}

#[test]
fn federated_sign_in_exists_only_with_a_provider_and_runs_code_with_pkce_for_the_page() {
    let template = template();
    let resources = &template["Resources"];
    // GIVEN the Cognito resources: each made only when sign-in is asked for
    for (name, condition) in [
        ("UserPool", "HasFederatedSignIn"),
        ("UserPoolDomain", "HasFederatedSignIn"),
        ("UserPoolWebClient", "HasFederatedSignIn"),
        ("GoogleIdentityProvider", "HasGoogleSignIn"),
        ("AmazonIdentityProvider", "HasAmazonSignIn"),
    ] {
        assert_eq!(text(&resources[name]["Condition"]), condition, "{name}");
    }
    // AND the providers are the two the page offers, with the names Cognito uses
    assert_eq!(
        text(&resources["GoogleIdentityProvider"]["Properties"]["ProviderType"]),
        "Google"
    );
    assert_eq!(
        text(&resources["AmazonIdentityProvider"]["Properties"]["ProviderType"]),
        "LoginWithAmazon"
    );
    // THEN the page's client is public and runs authorization code (with PKCE), nothing else
    let client = &resources["UserPoolWebClient"]["Properties"];
    assert_eq!(client["GenerateSecret"], Value::Bool(false));
    assert_eq!(
        client["AllowedOAuthFlows"],
        serde_yaml::from_str::<Value>("[code]").unwrap()
    );
    assert_eq!(client["EnableTokenRevocation"], Value::Bool(true));
    // AND it returns people to the page's own origin, nowhere else
    let callbacks = format!("{:?}", client["CallbackURLs"]);
    assert!(
        callbacks.contains("CorsOriginParameter.Value"),
        "{callbacks}"
    );
    // AND the authorizer (the auth function) trusts exactly that pool and client
    let variables = &resources["AuthFunction"]["Properties"]["Environment"]["Variables"];
    let issuer = format!("{:?}", variables["ASKDOCS_OIDC_ISSUER"]);
    assert!(
        issuer.contains("HasFederatedSignIn") && issuer.contains("UserPool.ProviderURL"),
        "{issuer}"
    );
    let client_id = format!("{:?}", variables["ASKDOCS_OIDC_CLIENT_ID"]);
    assert!(client_id.contains("UserPoolWebClient"), "{client_id}");
    // AND the client secrets of Google and Amazon are never echoed back
    for secret in ["GoogleClientSecret", "AmazonClientSecret"] {
        assert_eq!(template["Parameters"][secret]["NoEcho"], Value::Bool(true));
    }
}

#[test]
fn a_rerank_model_is_called_and_granted_only_when_one_is_named() {
    // GIVEN the template
    let template = template();
    let query = &template["Resources"]["QueryFunction"]["Properties"];
    // THEN the query function is told the parameter's model (empty: none)
    assert_eq!(
        query["Environment"]["Variables"]["BEDROCK_RERANK_MODEL_ID"],
        serde_yaml::from_str::<Value>("!Ref RerankModelId").unwrap()
    );
    assert_eq!(template["Parameters"]["RerankModelId"]["Default"], "");
    // AND its role may call Rerank and run that model only under HasRerankModel
    let statements = template["Resources"]["QueryFunctionRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("the query role has statements");
    let mut granted = Vec::new();
    for statement in statements {
        let text = serde_yaml::to_string(statement).unwrap();
        if !text.contains("Rerank") {
            continue;
        }
        assert!(text.starts_with("!If"), "{text}");
        assert!(text.contains("HasRerankModel"), "{text}");
        granted.push(text);
    }
    assert_eq!(granted.len(), 2, "{granted:?}");
    assert!(granted[0].contains("bedrock:Rerank"));
    assert!(
        granted[1].contains("bedrock:InvokeModel")
            && granted[1].contains("foundation-model/${RerankModelId}")
    );
}
