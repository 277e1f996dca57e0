//! Every view rendered from the fixture results: snapshots (volatile fields redacted) plus the
//! properties a snapshot review could miss — escaping, no network, honest labelling.

use jouletrace::engine::{Event, Observer};
use jouletrace::report::{
    self, Bmf, ExportKind, ExportSpec, Format, GithubSummary, Html, Json, Junit, ProgressObserver,
    Terminal,
};
use jouletrace::results::RunResults;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/results");

fn fixture(name: &str) -> RunResults {
    RunResults::load(std::path::Path::new(&format!("{FIXTURES}/{name}"))).expect("fixture loads")
}

/// The fixture with the fields that differ between runs of the same code replaced.
fn redacted(name: &str) -> RunResults {
    let mut r = fixture(name);
    r.tool.version = "[version]".into();
    r.run.started_at = "[started]".into();
    r.run.finished_at = Some("[finished]".into());
    r.environment.hostname = Some("[hostname]".into());
    r
}

#[test]
fn terminal_snapshot_measured() {
    let text = Terminal::new(false)
        .render(&redacted("measured.json"))
        .unwrap();
    assert!(
        !text.contains('\x1b'),
        "colour off must mean no escape codes"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn terminal_snapshot_estimated() {
    let text = Terminal::new(false)
        .render(&redacted("estimated.json"))
        .unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn terminal_output_is_honest_about_the_meter() {
    let measured = Terminal::new(false)
        .render(&fixture("measured.json"))
        .unwrap();
    assert!(
        measured.contains("energy/call ±95% CI [perf · package-0]"),
        "{measured}"
    );
    assert!(!measured.to_lowercase().contains("estimated"), "{measured}");

    let estimated = Terminal::new(false)
        .render(&fixture("estimated.json"))
        .unwrap();
    let header = estimated.lines().next().unwrap();
    assert!(header.contains("ESTIMATED"), "{header}");
    assert!(estimated.contains("est. energy/call"), "{estimated}");
    // Every energy figure in a table row says it is an estimate.
    for line in estimated
        .lines()
        .filter(|l| l.contains(" µJ ") || l.contains(" mJ "))
    {
        if line.contains("→") {
            continue; // baseline lines
        }
        assert!(line.contains("est."), "unlabelled estimate: {line}");
    }
    // Failures appear with their reasons.
    assert!(estimated.contains("broken_sort (correctness check): wrong_answer on case n1k"));
    assert!(estimated.contains("unsafe_sort (correctness check): crashed on case n10k (SIGSEGV)"));
    assert!(estimated.contains("insertion_sort (measuring case n100k): timeout"));
}

#[test]
fn terminal_colour_is_only_there_when_asked_for() {
    let coloured = Terminal::new(true)
        .render(&fixture("measured.json"))
        .unwrap();
    assert!(coloured.contains("\x1b["));
    let plain = Terminal::new(false)
        .render(&fixture("measured.json"))
        .unwrap();
    // Stripping the codes from the coloured text gives the plain text: colour adds nothing else.
    let mut stripped = String::new();
    let mut rest = coloured.as_str();
    while let Some(i) = rest.find("\x1b[") {
        stripped.push_str(&rest[..i]);
        let end = rest[i..].find('m').expect("SGR sequences end in m");
        rest = &rest[i + end + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
}

#[test]
fn json_snapshot() {
    let text = Json.render(&fixture("measured.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value, {
        ".tool.version" => "[version]",
        ".run.started_at" => "[timestamp]",
        ".run.finished_at" => "[timestamp]",
        ".environment.hostname" => "[hostname]",
    });
}

#[test]
fn html_snapshot_measured() {
    insta::assert_snapshot!(Html.render(&redacted("measured.json")).unwrap());
}

#[test]
fn html_snapshot_estimated() {
    insta::assert_snapshot!(Html.render(&redacted("estimated.json")).unwrap());
}

#[test]
fn html_is_self_contained() {
    for name in ["measured.json", "estimated.json"] {
        let html = Html.render(&fixture(name)).unwrap();
        let lower = html.to_lowercase();
        assert!(
            !lower.contains("http://") && !lower.contains("https://"),
            "{name}: a URL"
        );
        assert!(!lower.contains("<script"), "{name}: no scripts are needed");
        assert!(!lower.contains("<link"), "{name}: no external stylesheets");
        assert!(
            !lower.contains("@import") && !lower.contains("url("),
            "{name}: CSS fetch"
        );
        assert!(!lower.contains("<img"), "{name}: no images");
        assert!(lower.contains("<style>"), "{name}: inline CSS");
        assert!(lower.matches("<svg").count() >= 4, "{name}: charts");
    }
}

#[test]
fn html_escapes_user_derived_text() {
    let html = Html.render(&fixture("measured.json")).unwrap();
    // regex_parse's expected and actual values are Debug output with markup characters.
    assert!(
        html.contains("a&lt;b&gt;&amp;c"),
        "expected value not escaped"
    );
    assert!(
        html.contains("in &lt;name&gt; &amp; friends"),
        "actual value not escaped"
    );
    assert!(
        !html.contains("<name>"),
        "raw markup from a value reached the page"
    );
    assert!(
        html.contains("&lt;no bounds check&gt;"),
        "stderr not escaped"
    );
}

#[test]
fn html_has_every_section() {
    let html = Html.render(&fixture("measured.json")).unwrap();
    for needle in [
        "class=\"ranking\"",
        "chart bars",
        "chart distribution",
        "chart scaling",
        "class=\"failure\"",
        "SIGSEGV",
        "id=\"environment\"",
        "Idle power",
        "rustc 1.95.0",
        "class=\"change-regressed\"",
        "+12.4%",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    // parse_config has no sized cases: one scaling chart in the page, for sort.
    assert_eq!(html.matches("chart scaling").count(), 1);
    assert!(!html.contains("estimated-banner"));
}

#[test]
fn an_estimated_html_report_cannot_be_mistaken_for_a_measurement() {
    let html = Html.render(&fixture("estimated.json")).unwrap();
    assert!(html.contains("id=\"estimated-banner\""));
    assert!(html.contains("ESTIMATED ENERGY — NOT A MEASUREMENT"));
    assert!(html.contains("<title>[ESTIMATED]"));
    // Every energy and power figure in the ranking tables carries the label.
    let mut checked = 0;
    for cell in html.split("<td class=\"num\">").skip(1) {
        let cell = &cell[..cell.find("</td>").expect("cells close")];
        let first = cell.split('<').next().unwrap_or("");
        if first.ends_with('J') || first.ends_with(" W") {
            checked += 1;
            assert!(
                cell.contains("<span class=\"est\">est.</span>"),
                "unlabelled: {cell}"
            );
        }
    }
    assert!(checked >= 14, "only {checked} energy cells found");
    // The power under the estimate is the model's constant: greyed, and tagged.
    let model_cells: Vec<&str> = html
        .split("<td class=\"num model\"")
        .skip(1)
        .map(|c| &c[..c.find("</td>").expect("cells close")])
        .collect();
    assert_eq!(
        model_cells.len(),
        checked,
        "one greyed power cell per energy cell"
    );
    for cell in model_cells {
        assert!(cell.contains("<span class=\"est\">est.</span>"), "{cell}");
    }
    assert!(
        html.contains("ESTIMATED energy per call"),
        "chart axes must say so too"
    );
}

#[test]
fn bmf_export() {
    let measured: serde_json::Value =
        serde_json::from_str(&Bmf.render(&fixture("measured.json")).unwrap()).unwrap();
    let entry = &measured["sort::std_sort/n10k"];
    let energy = &entry["energy-per-call"];
    assert!(energy["lower_value"].as_f64() <= energy["value"].as_f64());
    assert!(energy["value"].as_f64() <= energy["upper_value"].as_f64());
    let ns = entry["latency"]["value"].as_f64().unwrap();
    assert!(
        (100_000.0..150_000.0).contains(&ns),
        "latency is in ns: {ns}"
    );
    // No figure for what was not measured.
    assert!(measured.get("sort::insertion_sort/n100k").is_none());
    assert!(measured.get("sort::broken_sort/n1k").is_none());

    let estimated: serde_json::Value =
        serde_json::from_str(&Bmf.render(&fixture("estimated.json")).unwrap()).unwrap();
    let entry = &estimated["sort::std_sort/n10k"];
    assert!(entry.get("energy-per-call").is_none());
    assert!(entry.get("energy-per-call-estimated").is_some());
    insta::assert_snapshot!(Bmf.render(&fixture("estimated.json")).unwrap());
}

#[test]
fn junit_export() {
    let xml = Junit.render(&redacted("measured.json")).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), 11);
    assert_eq!(xml.matches("<skipped ").count(), 1, "the ignored candidate");
    assert_eq!(xml.matches("<failure ").count(), 4);
    assert!(xml.contains("type=\"crashed\""));
    assert!(
        xml.contains("a&lt;b&gt;&amp;c"),
        "expected value must be escaped"
    );
    assert!(!xml.contains("<name>"));
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    insta::assert_snapshot!(xml);
}

#[test]
fn github_summary() {
    let md = GithubSummary.render(&redacted("measured.json")).unwrap();
    assert!(md.contains("1 regression") || md.contains("regressions"));
    assert!(md.contains("🔴 **regressed**"));
    assert!(!md.contains("<name>"), "values must be escaped");
    insta::assert_snapshot!(md);
    let est = GithubSummary.render(&fixture("estimated.json")).unwrap();
    assert!(est.contains("> [!WARNING]"));
    assert!(est.contains("Estimated energy/call"));
}

#[test]
fn write_all_writes_a_reloadable_results_file_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("target/joule");
    let results = fixture("measured.json");
    let written = report::write_all(&results, &out).unwrap();
    assert_eq!(written.json, out.join("results.json"));
    assert_eq!(written.html, out.join("report.html"));
    assert_eq!(RunResults::load(&written.json).unwrap(), results);
    assert!(
        std::fs::read_to_string(&written.html)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    for kind in ExportKind::ALL {
        let spec: ExportSpec =
            format!("{kind}={}", out.join("exports").join(kind.name()).display())
                .parse()
                .unwrap();
        report::write_export(&results, &spec).unwrap();
        assert!(spec.path.is_file(), "{kind}");
    }

    let summary = out.join("summary.md");
    report::append_markdown_summary(&results, &summary).unwrap();
    report::append_markdown_summary(&results, &summary).unwrap();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        text.matches("## JouleTrace").count(),
        2,
        "appends, never truncates"
    );
}

#[test]
fn write_all_reports_the_path_it_could_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let err = report::write_all(&fixture("measured.json"), &blocker.join("sub")).unwrap_err();
    assert!(err.to_string().contains("file/sub"), "{err}");
}

#[test]
fn progress_observer_follows_a_whole_run_without_a_terminal() {
    let results = fixture("measured.json");
    let mut obs = ProgressObserver::with_target(indicatif::ProgressDrawTarget::hidden(), true);
    assert!(!obs.is_drawing());
    let candidates: Vec<_> = results.candidates().collect();
    obs.event(&Event::Plan {
        candidates: candidates.len(),
        measured_cases: 3,
    });
    obs.event(&Event::Note {
        message: "the estimate meter is in use".into(),
    });
    for c in &candidates {
        obs.event(&Event::CheckStarted {
            candidate: c.id.clone(),
        });
        obs.event(&Event::CheckFinished {
            candidate: c.id.clone(),
            record: Box::new(c.check.clone()),
        });
    }
    for r in &results.idle {
        obs.event(&Event::IdleMeasured { record: r.clone() });
    }
    for c in &candidates {
        for m in &c.measurements {
            obs.event(&Event::MeasureStarted {
                candidate: c.id.clone(),
                case: m.case.clone(),
                planned: 5,
            });
            for (i, s) in m.samples.iter().enumerate() {
                obs.event(&Event::Sample {
                    candidate: c.id.clone(),
                    case: m.case.clone(),
                    sample: Box::new(s.clone()),
                    done: i as u32 + 1,
                });
            }
            obs.event(&Event::MeasureFinished {
                candidate: c.id.clone(),
                case: m.case.clone(),
                measurement: Box::new(m.clone()),
            });
        }
    }
    obs.event(&Event::RunFinished {
        complete: true,
        candidates: candidates.len(),
        failed: 0,
    });
}

#[test]
fn a_check_only_run_renders_without_energy_figures() {
    let mut results = fixture("measured.json");
    results.meter = None;
    results.idle.clear();
    results.baseline = None;
    for p in &mut results.problems {
        p.rankings.clear();
        for c in &mut p.candidates {
            c.measurements.clear();
        }
    }
    let terminal = Terminal::new(false).render(&results).unwrap();
    assert!(terminal.contains("(checks only)"), "{terminal}");
    assert!(
        !terminal.contains("not_run"),
        "no table of nothing: {terminal}"
    );
    assert!(
        !terminal.contains(" J "),
        "no energy without a meter: {terminal}"
    );
    let html = Html.render(&results).unwrap();
    assert!(html.contains("nothing was measured"));
    assert!(!html.contains("chart bars"));
    for kind in ExportKind::ALL {
        kind.format().render(&results).unwrap();
    }
    let bmf: serde_json::Value = serde_json::from_str(&Bmf.render(&results).unwrap()).unwrap();
    assert_eq!(bmf, serde_json::json!({}));
}

// Issue 12: what a newcomer tripped over in the reports.

#[test]
fn ties_are_marked_in_the_terminal_and_spelled_out_in_the_html() {
    let text = Terminal::new(false)
        .render(&fixture("measured.json"))
        .unwrap();
    // parse_config: hand_rolled and table_parse are not significantly different.
    let tied: Vec<&str> = text.lines().filter(|l| l.contains('≈')).collect();
    assert!(
        tied.iter()
            .any(|l| l.contains("hand_rolled") && l.contains("≈1.00×")),
        "{text}"
    );
    assert!(
        tied.iter()
            .any(|l| l.contains("table_parse") && l.contains("≈1.01×"))
    );
    assert!(text.contains("≈ not significantly different from the candidate ranked just above"));
    // A significant step is not marked.
    let serde = text
        .lines()
        .find(|l| l.contains("serde_parse") && l.contains("2.65×"))
        .unwrap();
    assert!(!serde.contains('≈'), "{serde}");
    // The sort problem has no tie, so no footnote in its block.
    let sort_block = &text[..text.find("parse_config").unwrap()];
    assert!(!sort_block.contains('≈'));

    let html = Html.render(&fixture("measured.json")).unwrap();
    // The verdict is text in a cell, not only a tooltip.
    assert!(
        html.contains(
            "<td class=\"verdict small\">hand_rolled uses 1.00× the energy of table_parse (95% CI 0.98–1.02), not significantly different from table_parse (p = 0.55)</td>"
        ),
        "verdict not visible"
    );
    assert!(
        !html.contains("title=\"hand_rolled uses"),
        "verdict hidden in a tooltip"
    );
    assert!(html.contains("<span class=\"tie\""));
}

#[test]
fn the_ranked_net_energy_is_shown_with_the_gross_beside_it() {
    let results = fixture("measured.json");
    let text = Terminal::new(false).render(&results).unwrap();
    let head = text.lines().find(|l| l.contains("energy/call")).unwrap();
    assert!(
        head.contains("net energy/call ±95% CI [perf · package-0]"),
        "{head}"
    );
    assert!(head.contains("gross"), "{head}");
    // The first figure is the net one the ratios come from, the gross one beside it.
    let std_sort = &results.problems[0].candidates[0];
    let stats = std_sort.measurements[0].stats.as_ref().unwrap();
    assert!((stats.net_energy_per_call_j.point.get() - 92.45e-6).abs() < 0.01e-6);
    assert!((stats.energy_per_call_j.point.get() - 111.3e-6).abs() < 0.1e-6);
    let row = text.lines().find(|l| l.contains("n1k (n=1000)")).unwrap();
    let net_at = row
        .find("92.45 µJ ±")
        .expect("net figure shown, with its interval");
    let gross_at = row.find("111.3 µJ").expect("gross figure shown");
    assert!(net_at < gross_at, "{row}");
    assert!(text.contains("net: idle power subtracted (ranks and ratios use it)"));

    let html = Html.render(&results).unwrap();
    assert!(html.contains("Net energy / call"));
    assert!(html.contains("<th class=\"num\">Gross</th>"));
    assert!(!html.contains("Net of idle"));

    // Without idle power (the estimate) net is gross: one energy column.
    let est = Terminal::new(false)
        .render(&fixture("estimated.json"))
        .unwrap();
    assert!(!est.contains("gross"), "{est}");
    assert!(!est.contains("net energy"), "{est}");
}

#[test]
fn the_estimates_model_power_is_not_a_terminal_column() {
    let est = Terminal::new(false)
        .render(&fixture("estimated.json"))
        .unwrap();
    for line in est
        .lines()
        .filter(|l| l.contains("passed") && l.contains("est."))
    {
        assert!(!line.contains(" W "), "model power shown: {line}");
    }
    assert!(
        !est.lines()
            .any(|l| l.contains("candidate") && l.contains("power"))
    );
    let measured = Terminal::new(false)
        .render(&fixture("measured.json"))
        .unwrap();
    assert!(
        measured
            .lines()
            .any(|l| l.contains("candidate") && l.contains("power"))
    );
}

#[test]
fn ignored_candidates_are_counted_and_shown_as_ignored_everywhere() {
    let results = fixture("measured.json");
    let text = Terminal::new(false).render(&results).unwrap();
    assert!(text.contains("11 candidates (1 ignored)"), "{text}");
    assert!(
        text.contains("sort  3 of 6 candidates passed their checks, 1 ignored"),
        "{text}"
    );
    assert!(
        text.contains(
            "ignored (`ignore` on the candidate; `--include-ignored` runs it): bogo_sort"
        )
    );
    assert!(!text.contains("6 of 6"));

    let html = Html.render(&results).unwrap();
    assert!(html.contains("<span class=\"chip\">1 ignored</span>"));
    assert!(html.contains("3 of 6 candidates passed their checks, 1 ignored"));
    assert!(html.contains("Ignored, not run"));
    assert!(html.contains("<strong>bogo_sort</strong> <span class=\"status skip\">ignored</span>"));

    let md = GithubSummary.render(&results).unwrap();
    assert!(md.contains("11 candidates (1 ignored)"), "{md}");
    assert!(md.contains("bogo\\_sort"), "{md}");
}

#[test]
fn the_estimate_note_appears_once_in_the_html() {
    let html = Html.render(&fixture("estimated.json")).unwrap();
    assert_eq!(
        html.matches("cargo joule doctor").count(),
        1,
        "pointer once"
    );
    assert_eq!(
        html.matches("did not advance over a busy probe").count(),
        1,
        "each rejected meter's reason once"
    );
    assert_eq!(
        html.matches("no energy counter can be read here").count(),
        0
    );
}

/// The search example's shape: two families of cases (`worst-case-*`, `text-*`) of the same
/// sizes, sized n + 1.
fn two_families() -> RunResults {
    let mut results = fixture("measured.json");
    let sort = &mut results.problems[0];
    let mut cases = Vec::new();
    for c in sort.cases.iter().filter(|c| c.measured) {
        for family in ["worst-case", "text"] {
            let mut c = c.clone();
            c.size = c.size.map(|n| n + 1);
            c.id = format!("{family}-{}", c.size.unwrap());
            cases.push(c);
        }
    }
    for cand in &mut sort.candidates {
        let mut ms = Vec::new();
        for m in &cand.measurements {
            for (family, scale) in [("worst-case", 1.0), ("text", 0.5)] {
                let mut m = m.clone();
                m.size = m.size.map(|n| n + 1);
                m.case = format!("{family}-{}", m.size.unwrap());
                if let Some(s) = &mut m.stats {
                    for e in [&mut s.energy_per_call_j, &mut s.net_energy_per_call_j] {
                        e.point.0 *= scale;
                        e.lower.0 *= scale;
                        e.upper.0 *= scale;
                    }
                }
                ms.push(m);
            }
        }
        cand.measurements = ms;
    }
    sort.cases = cases;
    sort.rankings.clear();
    results.baseline = None;
    results
}

#[test]
fn the_scaling_chart_draws_one_line_per_case_family() {
    let html = Html.render(&two_families()).unwrap();
    let chart = html
        .split("<svg class=\"chart scaling\"")
        .nth(1)
        .expect("a scaling chart");
    let chart = &chart[..chart.find("</svg>").unwrap()];
    // std_sort and merge_sort have three sizes in each family, insertion_sort two.
    assert_eq!(chart.matches("<polyline").count(), 6, "{chart}");
    assert_eq!(chart.matches("stroke-dasharray").count(), 3);
    assert!(chart.contains(">std_sort · text-*</text>"));
    assert!(html.contains(
        "One line per candidate and family of cases: solid worst-case-*, dashed text-*."
    ));
    // Sizes run from 1,001 to 100,001: the axis ends near 100k, not at the next power of ten.
    assert!(chart.contains(">100k</text>"));
    assert!(!chart.contains(">1M</text>"), "{chart}");
}
