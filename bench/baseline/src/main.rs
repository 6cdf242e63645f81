//! The ceiling bench/load.sh measures the service against: a bare actix-web endpoint that
//! reads the same JSON body (parsed into a `serde_json::Value`) and answers one fixed card.
//! `atcds-load-baseline --serve PORT [--workers N]`; bench/load.sh builds and starts it.

use actix_web::{App, HttpResponse, HttpServer, web};

/// With `--features mimalloc`: the service's allocator (src/main.rs).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn card(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(request) if request.get("hook").is_some() => HttpResponse::Ok().json(serde_json::json!({
            "cards": [{
                "uuid": "5b8a7c2e-6b8f-4e4a-9f59-0c4a3f1d2e10",
                "summary": "Baricitinib (Olumiant): only if no suitable alternative — age 65 or older",
                "indicator": "warning",
                "detail": "**Found**\n- age 65 or older: 71 years",
                "source": {"label": "baseline", "topic": {"code": "jak.restricted-population", "system": "urn:advanced-therapy-cds:rule-id"}}
            }]
        })),
        _ => HttpResponse::BadRequest().finish(),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(port) = args.iter().position(|a| a == "--serve").and_then(|i| args.get(i + 1)) else {
        eprintln!("usage: atcds-load-baseline --serve PORT [--workers N]");
        std::process::exit(2);
    };
    let addr = format!("127.0.0.1:{port}");
    let workers = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new()
                .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
                .route("/cds-services/{id}", web::post().to(card))
        })
        .workers(workers)
        .bind(addr)?
        .run()
        .await
    })
}
