//! Who a request is, for the gateway and `serve-model`: an API key (`Authorization: Bearer
//! alk_...`, argon2id once per key) or a client certificate this workspace issued (found by
//! its fingerprint, live in the catalog); and the roles access.toml's `[actors]` binds to it.
//! The rules are re-read at most once a second (a change is versioned and audited).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use airlock_run::Workspace;
use airlock_server::server::Peer;
use airlock_vault::CredentialKind;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub roles: Vec<String>,
}

struct State {
    ws: Workspace,
    refreshed: Instant,
}

/// A handle on the workspace for authentication only.
pub struct Auth {
    state: Mutex<State>,
    checked: airlock_server::apikey::Checked,
    /// Who a change of access.toml noticed here is recorded as.
    service: airlock_vault::Actor,
}

impl Auth {
    /// `ws` in server mode (a role counts only where `[actors]` binds it).
    pub fn new(ws: Workspace, service: airlock_vault::Actor) -> Self {
        Self {
            state: Mutex::new(State {
                ws,
                refreshed: Instant::now(),
            }),
            checked: airlock_server::apikey::Checked::default(),
            service,
        }
    }

    /// Who the request is, or why it is refused (no value of the request in the reason).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: &Peer,
    ) -> std::result::Result<Caller, &'static str> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let mut state = self.state.lock().map_err(|_| "the server failed")?;
        if state.refreshed.elapsed() > Duration::from_secs(1) {
            state.refreshed = Instant::now();
            if let Some(v) = state.ws.vault_mut() {
                // a file that does not parse keeps the rules in use (and the error is the
                // operator's to see at the next start)
                let _ = v.refresh_access(&self.service);
            }
        }
        let vault = state.ws.vault().ok_or("the server has no vault")?;
        // an OpenAI client always sends a bearer: beside a client certificate, one that is
        // not an airlock key is no credential (two credentials are refused)
        let bearer =
            bearer.filter(|b| peer.0.is_none() || b.starts_with(airlock_server::apikey::PREFIX));
        let name = match (bearer, &peer.0) {
            (Some(_), Some(_)) => {
                return Err(
                    "the request carries both a client certificate and an API key; present one",
                );
            }
            (Some(key), None) if key.starts_with(airlock_server::apikey::PREFIX) => {
                let cred = airlock_server::apikey::lookup(vault, key)
                    .map_err(|_| "the API key is unknown or revoked")?;
                // argon2id runs without the workspace held
                drop(state);
                let name = self
                    .checked
                    .verify(cred, key)
                    .ok_or("the API key is unknown or revoked")?;
                let state = self.state.lock().map_err(|_| "the server failed")?;
                let roles = state
                    .ws
                    .vault()
                    .map(|v| v.roles_of(&name))
                    .unwrap_or_default();
                return Ok(Caller { name, roles });
            }
            (Some(_), None) => return Err("the API key is unknown or revoked"),
            (None, Some(fp)) => vault
                .live_credentials(CredentialKind::Cert, fp)
                .ok()
                .and_then(|c| c.into_iter().next())
                .map(|c| c.subject)
                .ok_or("this certificate is not one the workspace issued, or it was revoked")?,
            (None, None) => {
                return Err("no API key (Authorization: Bearer) and no client certificate");
            }
        };
        let roles = vault.roles_of(&name);
        Ok(Caller { name, roles })
    }
}

/// [`Auth::authenticate`] on a blocking thread (an API key's first check runs argon2id).
pub async fn authenticate(
    auth: Arc<Auth>,
    headers: HeaderMap,
    peer: Peer,
) -> std::result::Result<Caller, &'static str> {
    tokio::task::spawn_blocking(move || auth.authenticate(&headers, &peer))
        .await
        .unwrap_or(Err("the server failed"))
}
