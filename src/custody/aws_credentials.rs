//! The region and credentials of the `aws-kms` custody, found the way the
//! AWS SDKs find them (their standard chain, the parts a server uses):
//!
//! 1. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
//! 2. web identity (EKS, IRSA): `AWS_WEB_IDENTITY_TOKEN_FILE` and
//!    `AWS_ROLE_ARN`, exchanged with STS `AssumeRoleWithWebIdentity`
//!    (`AWS_ENDPOINT_URL_STS` overrides the endpoint);
//! 3. the container's role (ECS): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//!    or `…_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`;
//! 4. the instance's role (EC2, IMDSv2), unless `AWS_EC2_METADATA_DISABLED`.
//!
//! Not read: shared `~/.aws` profiles and SSO — a server is given one of
//! the above. Credentials are used at start and by `keydrop keys` only, so
//! they are never refreshed. Requests are signed by `aws-sigv4`.

use super::CustodyError;
use aws_credential_types::Credentials;
use std::time::Duration;

pub type AwsCredentials = Credentials;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the instance's region.
pub async fn region(http: &reqwest::Client, name: &str) -> Result<String, CustodyError> {
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        return Ok(region.trim().to_owned());
    }
    if let Some(region) = imds(http, "/latest/meta-data/placement/region").await {
        return Ok(region);
    }
    Err(CustodyError::Config(format!(
        "{name}: no AWS region: set AWS_REGION"
    )))
}

/// The first credentials the chain yields.
pub async fn resolve(
    http: &reqwest::Client,
    region: &str,
    name: &str,
) -> Result<Credentials, CustodyError> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Credentials::new(
            id,
            secret,
            env("AWS_SESSION_TOKEN"),
            None,
            "environment",
        ));
    }
    if let (Some(file), Some(role)) = (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
        return web_identity(http, region, &file, &role, name).await;
    }
    if let Some(creds) = container(http, name).await? {
        return Ok(creds);
    }
    if let Some(role) = imds(http, "/latest/meta-data/iam/security-credentials/").await {
        let role = role.lines().next().unwrap_or("").trim().to_owned();
        let path = format!("/latest/meta-data/iam/security-credentials/{role}");
        if let Some(body) = imds(http, &path).await {
            return from_json(&body, "instance role").ok_or_else(|| {
                CustodyError::Refused(format!(
                    "{name}: the instance role's credentials are unreadable"
                ))
            });
        }
    }
    Err(CustodyError::Config(format!(
        "{name}: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or run with a container or instance role"
    )))
}

/// `AccessKeyId`, `SecretAccessKey` and `Token` of a container or instance role.
fn from_json(body: &str, provider: &'static str) -> Option<Credentials> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(Credentials::new(
        v["AccessKeyId"].as_str()?,
        v["SecretAccessKey"].as_str()?,
        v["Token"].as_str().map(str::to_owned),
        None,
        provider,
    ))
}

async fn web_identity(
    http: &reqwest::Client,
    region: &str,
    token_file: &str,
    role: &str,
    name: &str,
) -> Result<Credentials, CustodyError> {
    let token = zeroize::Zeroizing::new(
        std::fs::read_to_string(token_file)
            .map_err(|e| CustodyError::Config(format!("{name}: AWS_WEB_IDENTITY_TOKEN_FILE: {e}")))?
            .trim()
            .to_owned(),
    );
    let endpoint = env("AWS_ENDPOINT_URL_STS")
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    let session = env("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "keydrop".into());
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session.as_str()),
        ("WebIdentityToken", token.as_str()),
    ];
    let res = http
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            CustodyError::Unreachable(format!("{name}: STS: {}", super::describe_http_error(&e)))
        })?;
    let status = res.status();
    let body = zeroize::Zeroizing::new(res.text().await.unwrap_or_default());
    if status.is_server_error()
        || status.as_u16() == 429
        || body.contains("<Code>Throttling")
        || body.contains("<Code>IDPCommunicationError")
    {
        return Err(CustodyError::Unreachable(format!(
            "{name}: STS answered {}",
            status.as_u16()
        )));
    }
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&close)? + start;
        Some(body[start..end].trim().to_owned())
    };
    match (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    ) {
        (Some(id), Some(secret), token) if status.is_success() => {
            Ok(Credentials::new(id, secret, token, None, "web identity"))
        }
        _ => Err(CustodyError::Refused(format!(
            "{name}: STS refused AssumeRoleWithWebIdentity for {role} ({})",
            status.as_u16()
        ))),
    }
}

async fn container(
    http: &reqwest::Client,
    name: &str,
) -> Result<Option<Credentials>, CustodyError> {
    let url = match (
        env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        env("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(rel), _) => format!("http://169.254.170.2{rel}"),
        (None, Some(full)) => full,
        (None, None) => return Ok(None),
    };
    let auth = match env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => std::fs::read_to_string(file)
            .ok()
            .map(|t| t.trim().to_owned()),
        None => env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    };
    let mut req = http.get(&url).timeout(Duration::from_secs(5));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.map_err(|e| {
        CustodyError::Unreachable(format!(
            "{name}: container credentials: {}",
            super::describe_http_error(&e)
        ))
    })?;
    if res.status().is_server_error() || res.status().as_u16() == 429 {
        return Err(CustodyError::Unreachable(format!(
            "{name}: the container credentials endpoint answered {}",
            res.status().as_u16()
        )));
    }
    let body = zeroize::Zeroizing::new(res.text().await.unwrap_or_default());
    from_json(&body, "container role").map(Some).ok_or_else(|| {
        CustodyError::Refused(format!(
            "{name}: the container's credentials are unreadable"
        ))
    })
}

/// One IMDSv2 read; `None` when there is no instance metadata service.
async fn imds(http: &reqwest::Client, path: &str) -> Option<String> {
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let base =
        env("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| "http://169.254.169.254".into());
    let base = base.trim_end_matches('/');
    let timeout = Duration::from_secs(1);
    let token = http
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .timeout(timeout)
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?
        .text()
        .await
        .ok()?;
    let res = http
        .get(format!("{base}{path}"))
        .header("x-aws-ec2-metadata-token", token)
        .timeout(timeout)
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    res.text().await.ok()
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`)
/// for one request.
pub fn sign(
    credentials: &Credentials,
    region: &str,
    service: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
