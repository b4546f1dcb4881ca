// mirt_report through SQL: the page of a run shows what the run's tables hold, and a run without
// anchors or standard errors, or no recorded run at all, still gets a page saying what is missing.

fn report(run_id: Option<&str>) -> String {
    Spi::get_one_with_args::<String>("SELECT mirt_report($1)", &[run_id.into()])
        .unwrap()
        .expect("a page")
}

/// The values of `attribute` in the tags of the page that start with `tag`, in order.
fn attributes(page: &str, tag: &str, attribute: &str) -> Vec<String> {
    page.match_indices(tag)
        .filter_map(|(at, _)| {
            let rest = &page[at..page[at..].find('>').map_or(page.len(), |end| at + end)];
            let start = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
            Some(rest[start..start + rest[start..].find('"')?].to_string())
        })
        .collect()
}

fn strings(query: &str) -> Vec<String> {
    Spi::connect(|c| {
        c.select(query, None, &[])
            .unwrap()
            .map(|r| r.get::<String>(1).unwrap().unwrap())
            .collect()
    })
}

#[pg_test]
fn a_run_s_report_shows_its_tables() {
    load_demo();
    Spi::run("SELECT mirt_calibrate('2PL', 60)").unwrap();
    let run: String = one("SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1");
    let page = report(None);
    assert_eq!(page, report(Some(&run)), "NULL is the latest run");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains(&run));
    assert_eq!(
        attributes(&page, "<section", "id"),
        ["summary", "linking", "test-curves", "item-curves", "parameters", "anchors", "dif", "trends", "abilities", "convergence"]
    );
    // One curve figure per anchor and per item the review did not pass (an excluded item has
    // no parameters to draw).
    let mut drawn = attributes(&page, "<figure class=\"icc\"", "data-item");
    drawn.sort();
    let wanted = strings(&format!(
        "SELECT DISTINCT i FROM (SELECT jsonb_array_elements_text(model_spec->'anchors_used') FROM mirt_fit_meta WHERE run_id = '{run}'
         UNION SELECT item_id FROM mirt_anchor_drift WHERE run_id = '{run}'
         UNION SELECT item_id FROM mirt_item_fit WHERE run_id = '{run}' AND status NOT IN ('ok', 'excluded')) x(i) ORDER BY 1"
    ));
    assert_eq!(drawn, wanted);
    assert!(wanted.len() >= 50, "the demo's 50 anchors");
    assert!(!page.contains("NaN") && !page.contains("inf\""), "no non-finite numbers");

    // The document behind it: every item, every ability in the histogram, every EM cycle.
    let doc = format!("mirt_report_data('{run}')");
    assert_eq!(one::<i32>(&format!("SELECT jsonb_array_length({doc}->'items')")), 150);
    assert_eq!(
        one::<i64>(&format!("SELECT sum((b->>'count')::bigint)::bigint FROM jsonb_array_elements({doc}->'abilities'->'bins') b")),
        500
    );
    assert_eq!(one::<i32>(&format!("SELECT jsonb_array_length({doc}->'abilities'->'bins')")), 40);
    assert_eq!(
        one::<i32>(&format!("SELECT jsonb_array_length({doc}->'run'->'metrics'->'em_trace')")),
        one::<i32>(&format!("SELECT ({doc}->'run'->'metrics'->>'em_cycles')::int"))
    );
    // Later runs take over users: the histogram counts only abilities this run still holds.
    Spi::run("UPDATE mirt_ability SET run_id = 'a later run' WHERE user_id IN (SELECT user_id FROM mirt_ability LIMIT 100)").unwrap();
    assert_eq!(one::<i64>(&format!("SELECT ({doc}->'abilities'->>'n')::bigint")), 400);
}

#[pg_test]
fn a_report_says_what_is_missing() {
    hold_run_lock();
    Spi::run(&lsat7()).unwrap();
    Spi::run(
        "SELECT mirt_calibrate('2PL', 60, source => 'lsat7', items => 'lsat7_items', linking => 'none', standard_errors => 'none')",
    )
    .unwrap();
    let page = report(None);
    assert!(page.contains("no anchors"), "a run without anchors says so");
    assert!(page.contains("no standard errors"), "a run without SEs says so");
    assert_eq!(
        attributes(&page, "<figure class=\"icc\"", "data-item"),
        strings("SELECT item_id FROM mirt_item_fit WHERE status <> 'ok' ORDER BY 1"),
        "no anchor curves, only the items to review"
    );
    assert!(!page.contains("NaN"));

    let unknown = report(Some("fit-<never>"));
    assert!(unknown.contains("fit-&lt;never&gt;") && !unknown.contains("fit-<never>"), "the id, escaped");
    assert!(unknown.contains("rolls back"), "why a failed run has no record");
    Spi::run("DELETE FROM mirt_fit_meta").unwrap();
    assert!(report(None).contains("no run"), "before the first run");
}
