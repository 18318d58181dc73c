//! `GET /static/{file}`: the stylesheet, compiled into the binary, and
//! `GET /static/brand/{file}`: the brand logo (`KEYDROP_BRAND_LOGO`), read at
//! start. Only known files are served; anything else is a 404.

use crate::web::AppState;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{route, web, HttpResponse};

/// The files served, with their content type.
const FILES: &[(&str, &str, &str)] = &[(
    "keydrop.css",
    "text/css; charset=utf-8",
    include_str!("../../../static/keydrop.css"),
)];

/// The body and content type of a known static file.
pub fn lookup(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ctype, body)| (*body, *ctype))
}

#[route("/static/{file}", method = "GET", method = "HEAD")]
pub async fn serve(file: web::Path<String>) -> HttpResponse {
    match lookup(&file) {
        Some((body, ctype)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, ctype))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(body),
        None => HttpResponse::NotFound()
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("not found"),
    }
}

/// The configured logo under its one name (`logo.png` or `logo.svg`).
#[route("/static/brand/{file}", method = "GET", method = "HEAD")]
pub async fn brand_logo(file: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    match &state.settings.brand_logo {
        Some(logo) if logo.file_name() == file.as_str() => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, logo.content_type()))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(logo.bytes().to_vec()),
        _ => HttpResponse::NotFound()
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test as awtest, App};

    #[actix_web::test]
    async fn serves_the_stylesheet_and_nothing_else() {
        let app = awtest::init_service(App::new().service(serve)).await;
        let res = awtest::call_service(
            &app,
            awtest::TestRequest::get()
                .uri("/static/keydrop.css")
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers().get(CONTENT_TYPE).unwrap(),
            "text/css; charset=utf-8"
        );
        assert_eq!(
            res.headers().get(CACHE_CONTROL).unwrap(),
            "public, max-age=3600"
        );
        let body = awtest::read_body(res).await;
        assert!(std::str::from_utf8(&body)
            .unwrap()
            .contains(".error-summary"));

        for uri in [
            "/static/other.css",
            "/static/..%2FCargo.toml",
            "/static/keydrop.css.map",
            "/static/",
        ] {
            let res =
                awtest::call_service(&app, awtest::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(res.status(), 404, "{uri}");
        }
    }

    #[actix_web::test]
    async fn registered_in_routes_and_keeps_its_cache_header() {
        let app = awtest::init_service(
            App::new()
                .wrap(crate::web::middleware::headers::security_headers(false))
                .configure(crate::web::routes),
        )
        .await;
        let req = awtest::TestRequest::get()
            .uri("/static/keydrop.css")
            .to_request();
        let res = awtest::call_service(&app, req).await;
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h.get(CACHE_CONTROL).unwrap(), "public, max-age=3600");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        let req = awtest::TestRequest::get()
            .uri("/static/nope.js")
            .to_request();
        let res = awtest::call_service(&app, req).await;
        assert_eq!(res.status(), 404);
    }

    #[test]
    fn stylesheet_loads_nothing_external() {
        let (css, _) = lookup("keydrop.css").unwrap();
        assert!(!css.contains("@import"));
        assert!(!css.contains("url("));
        assert!(!css.contains("http"));
    }
}
