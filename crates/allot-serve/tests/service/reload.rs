//! Rulesets swapped while orders flow: uploads, refusals, rollback, the watched file.

use super::*;

fn changed_sources() -> Value {
    let mut files = example_sources();
    let policies = files["policies.allot"]
        .as_str()
        .unwrap()
        .replace("priority 10", "priority 11");
    files.insert("policies.allot".into(), Value::String(policies));
    Value::Object(files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_verified_swapped_and_rolled_back() {
    let golden = example().join("example.test.toml");
    let h = harness_with(None, |c| c.golden = Some(golden)).await;
    let first = h.state.service.revision();

    let (status, body) = h
        .call(
            Method::PUT,
            "/v1/ruleset",
            changed_sources().to_string(),
            false,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    // Does not compile: the diagnostics, and the active ruleset stays.
    let mut broken = changed_sources();
    broken["policies.allot"] = Value::String(
        broken["policies.allot"]
            .as_str()
            .unwrap()
            .replace("node.pick_cost\n", "node.pick_cots\n"),
    );
    let (status, body) = h
        .call(Method::PUT, "/v1/ruleset", broken.to_string(), true)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "ruleset_refused"),
        "{body}"
    );
    assert!(
        body["diagnostics"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("pick_cots")),
        "{body}"
    );
    assert_eq!(h.state.service.revision(), first);

    // Compiles, but fails a golden scenario.
    let mut careless = changed_sources();
    careless["policies.allot"] = Value::String(careless["policies.allot"].as_str().unwrap().replace(
        "exclude when not node.enabled                           because \"node switched off\"\n", ""));
    let (status, body) = h
        .call(Method::PUT, "/v1/ruleset", careless.to_string(), true)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["failures"].as_array().is_some_and(|f| !f.is_empty()),
        "{body}"
    );
    assert_eq!(h.state.service.revision(), first);

    let (status, body) = h.call(Method::PUT, "/v1/ruleset", "not a plan", true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A good one, while orders flow: every order is answered, by one revision or the other.
    let flow: Vec<_> = (0..40)
        .map(|i| spawn_route(&h.app, sofa_order(&format!("F-{i}"), 1)))
        .collect();
    let (status, body) = h
        .call(
            Method::PUT,
            "/v1/ruleset",
            changed_sources().to_string(),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = h.state.service.revision();
    assert_ne!(second, first);
    assert_eq!(body["active"]["revision"], second.as_str());
    assert_eq!(body["previous"][0]["revision"], first.as_str());
    for task in flow {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(
            [first.as_str(), second.as_str()]
                .contains(&answer["ruleset_revision"].as_str().unwrap())
        );
    }
    let (_, answer) = h.route(&sofa_order("after", 1)).await;
    assert_eq!(answer["ruleset_revision"], second.as_str());

    let (status, body) = h.call(Method::POST, "/v1/ruleset/rollback", "", true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.state.service.revision(), first);
    let (status, body) = h.call(Method::POST, "/v1/ruleset/rollback", "", true).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_previous_revision")
    );
    let (_, view) = h.call(Method::GET, "/v1/ruleset", "", false).await;
    assert_eq!(view["active"]["revision"], first.as_str());
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_plan_file_is_swapped_in_and_a_bad_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ruleset = dir.path().join("rules");
    std::fs::create_dir(&ruleset).unwrap();
    for (name, text) in example_sources() {
        std::fs::write(ruleset.join(name), text.as_str().unwrap()).unwrap();
    }
    let h = harness_with(None, |c| {
        c.rules = RulesPath::Ruleset(ruleset.clone());
        c.watch_every = Duration::from_millis(20);
    })
    .await;
    let first = h.state.service.revision();
    let tasks = allot_serve::spawn_background(h.state.service.clone(), &h.config);
    let wait_for = |want: bool| {
        let service = h.state.service.clone();
        let first = first.clone();
        async move {
            for _ in 0..200 {
                if (service.revision() != first) == want {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    std::fs::write(ruleset.join("policies.allot"), "policy \"broken\" {").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.state.service.revision(),
        first,
        "a broken file is refused"
    );
    let changed = changed_sources();
    std::fs::write(
        ruleset.join("policies.allot"),
        changed["policies.allot"].as_str().unwrap(),
    )
    .unwrap();
    assert!(wait_for(true).await, "the changed ruleset went live");
    tasks.iter().for_each(|t| t.abort());
    let _ = &h.dir;
}
