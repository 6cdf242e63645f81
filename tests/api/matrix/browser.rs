//! The decision-matrix page in a real browser (issue 17): Debian's `chromium`, headless, against
//! the running service. It loads the page from a card's link and checks the rendered DOM (the
//! script has run: the candidates are in the order of the arrows), ticks preferences and checks
//! that the order changes, prints the page to PDF (one A4 page) and keeps a screenshot in
//! `target/matrix-screenshot.png`.
//!
//! Ticking in a headless browser without a driver: the page's script reads ticked preferences
//! from the address's fragment (`#prefs=oral,few-lab-checks`) on load and applies them as a click
//! would, so `--dump-dom` of that address shows the page after the ticks.
//!
//! Chromium comes from `tests/tools/install-chromium.sh` (apt-get when missing and root). When it
//! cannot be had, the test FAILS with the reason: a page no browser has rendered is not tested.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{CASE, DRUGS, matrix_link, patient_secrets};
use crate::support::{TestApp, loud, root};

/// Chromium, installed by the project's script when missing.
fn chromium() -> PathBuf {
    let script = root().join("tests/tools/install-chromium.sh");
    let out = Command::new("bash").arg(&script).output().unwrap_or_else(|e| {
        loud(&format!("matrix browser test: cannot run {}: {e}", script.display()));
        panic!("matrix browser test: cannot run {}: {e}", script.display())
    });
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr).to_string();
        loud(&format!("matrix browser test: NO CHROMIUM, the page was not tested in a browser: {why}"));
        panic!("matrix browser test: no chromium ({}): {why}", script.display());
    }
    PathBuf::from(path)
}

/// Headless chromium with a profile of its own; `args` before the URL.
fn run(browser: &Path, profile: &Path, args: &[&str], url: &str) -> Vec<u8> {
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn dump_dom(browser: &Path, profile: &Path, url: &str) -> String {
    String::from_utf8(run(browser, profile, &["--dump-dom", "--virtual-time-budget=3000"], url)).unwrap()
}

/// The candidates' drugs, in the order the page shows them.
fn candidates(dom: &str) -> Vec<String> {
    let list = &dom[dom.find("id=\"candidates\"").expect("the candidates list")..];
    let list = &list[..list.find("</ol>").unwrap()];
    list.split("data-drug=\"").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

/// Pages of a PDF: its `/Type /Page` objects (not the `/Pages` tree nodes).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let mut n = 0;
    for (at, _) in text.match_indices("/Type") {
        let rest = text[at + 5..].trim_start();
        if rest.starts_with("/Page") && !rest.starts_with("/Pages") {
            n += 1;
        }
    }
    n
}

/// Print `url` to PDF (kept as `target/matrix-LANG.pdf`); its pages, checked to be A4 landscape.
fn print_pages(browser: &Path, profile: &Path, url: &str, lang: &str) -> usize {
    let pdf = target_dir().join(format!("matrix-{lang}.pdf"));
    std::fs::create_dir_all(target_dir()).unwrap();
    run(browser, profile, &[&format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer"], url);
    let bytes = std::fs::read(&pdf).expect("chromium wrote the PDF");
    // A4 landscape: 842 × 595 points.
    let text = String::from_utf8_lossy(&bytes);
    let media = &text[text.find("/MediaBox [").expect("a MediaBox") + 11..];
    let size: Vec<f64> = media[..media.find(']').unwrap()].split_whitespace().map(|n| n.parse().unwrap()).collect();
    let (w, h) = (size[2] - size[0], size[3] - size[1]);
    assert!((w - 842.0).abs() < 2.0 && (h - 595.0).abs() < 2.0, "not A4 landscape: {w} × {h} points");
    pdf_pages(&bytes)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

#[tokio::test]
async fn the_matrix_page_renders_reorders_and_prints_on_one_page_in_chromium() {
    let browser = chromium();
    let app = TestApp::start().await;
    let (_, url) = matrix_link(&app, CASE, "en-GB,en;q=0.8").await;
    let profile = tempfile::tempdir().unwrap();
    let (browser, dir) = (browser.clone(), profile.path().to_path_buf());
    let page_url = url.clone();
    // Chromium blocks: off the test's runtime (the service answers on its own thread).
    tokio::task::spawn_blocking(move || {
        let url = page_url;
        let dom = dump_dom(&browser, &dir, &url);
        assert!(dom.contains("<html lang=\"en\">"), "{dom}");
        for drug in DRUGS {
            assert!(dom.contains(&format!("id=\"col-{drug}\"")), "column {drug}");
        }
        assert!(dom.contains("Atopische keratoconjunctivitis"), "the finding's evidence");
        assert!(dom.contains("id=\"row-ocular-surface-disease\"") && dom.contains("data-state=\"applies\""));
        assert!(dom.contains("no pregnancy status in the last 9 months"), "a row not checked, and why");
        assert!(dom.contains("no breastfeeding status in the last 9 months"));
        // The script ran: the candidates are ordered by the arrows of the rows that apply (the
        // ocular-surface row: ↑ for the JAK inhibitors, ↓ for the biologics), not in column order.
        let start = candidates(&dom);
        assert_eq!(start, ["baricitinib", "upadacitinib", "abrocitinib", "dupilumab", "tralokinumab"], "{dom}");

        // Tick "few laboratory checks", "short-term safety" and "long-term safety": the biologics
        // come first; tick "oral" instead: the JAK inhibitors stay first.
        let ticked =
            dump_dom(&browser, &dir, &format!("{url}#prefs=few-lab-checks,short-term-safety,long-term-safety"));
        let reordered = candidates(&ticked);
        assert_eq!(reordered, ["dupilumab", "tralokinumab", "baricitinib", "upadacitinib", "abrocitinib"]);
        assert_ne!(reordered, start, "ticking preferences changes the order");
        assert_eq!(candidates(&dump_dom(&browser, &dir, &format!("{url}#prefs=oral")))[0], "baricitinib");

        // Dutch, through the switch.
        let dutch = dump_dom(&browser, &dir, &format!("{url}?lang=nl"));
        assert!(dutch.contains("<html lang=\"nl\">") && dutch.contains("Keuzematrix voor deze patiënt"));
        assert!(dutch.contains("geen zwangerschapsstatus in de laatste 9 maanden"));
        for secret in patient_secrets(CASE) {
            assert!(!dom.contains(&secret) && !dutch.contains(&secret), "the page shows {secret:?}");
        }

        // Printed: one A4 landscape page, in English and in Dutch.
        for (lang, page) in [("en", url.clone()), ("nl", format!("{url}?lang=nl"))] {
            let pages = print_pages(&browser, &dir, &page, lang);
            assert_eq!(pages, 1, "printed in {lang}, the matrix takes {pages} pages (kept in target/)");
        }

        // A screenshot of the whole page, 1280 pixels wide (a tablet held landscape), to look at.
        let shot = target_dir().join("matrix-screenshot.png");
        run(&browser, &dir, &[&format!("--screenshot={}", shot.display()), "--window-size=1280,2500"], &url);
        let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        eprintln!("matrix page: one printed page in English and Dutch; screenshot {}", shot.display());
    })
    .await
    .unwrap();
}
