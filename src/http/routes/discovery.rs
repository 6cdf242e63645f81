//! `GET /cds-services`: the services, their hooks and the prefetch they ask for.

use actix_web::{HttpResponse, web};

use crate::http::AppState;
use crate::protocol::{DiscoveredService, Discovery};

pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let k = &state.advisor.knowledge;
    let services = k
        .services
        .iter()
        .map(|s| DiscoveredService {
            hook: s.hook.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            id: s.id.clone(),
            prefetch: k.prefetch.clone(),
            usage_requirements: s.usage_requirements.clone(),
        })
        .collect();
    HttpResponse::Ok().json(Discovery { services })
}
