//! The URLs the browser is sent to at the identity server: the authorize endpoint (sign-in) and the end-session
//! endpoint (sign-out).

use super::IdentityServer;
use super::pkce::{CodeVerifier, Nonce, State};
use super::tokens::IdToken;
use crate::error::BffError;

impl IdentityServer {
    /// The authorize URL for a started sign-in (its `state`, `nonce` and PKCE verifier): code flow with PKCE S256
    /// (hybrid `code id_token` with form_post when so configured), `prompt=login` when asked for.
    pub async fn authorize_url(
        &self,
        (state, nonce, verifier): (&State, &Nonce, &CodeVerifier),
        prompt_login: bool,
    ) -> Result<String, BffError> {
        let discovery = self.discovery().await?;
        let mut url = url::Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| BffError::Misconfigured("discovery's authorization_endpoint is not a URL".into()))?;
        let form_post = self.config.form_post();
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_uri.as_str())
            .append_pair("response_type", if form_post { "code id_token" } else { "code" })
            .append_pair("scope", &self.config.scopes)
            .append_pair("state", state.expose())
            .append_pair("nonce", nonce.expose())
            .append_pair("code_challenge", &verifier.challenge())
            .append_pair("code_challenge_method", "S256");
        if form_post {
            q.append_pair("response_mode", "form_post");
        }
        if prompt_login {
            q.append_pair("prompt", "login");
        }
        drop(q);
        Ok(url.into())
    }

    /// The end-session URL with `id_token_hint` (which frees the ERP licence at once), when discovery lists an
    /// end-session endpoint; `None` otherwise.
    pub async fn end_session_url(&self, id_token: &IdToken) -> Option<String> {
        let endpoint = self.discovery().await.ok()?.end_session_endpoint.clone()?;
        let mut url = url::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token.expose())
            .append_pair("post_logout_redirect_uri", self.config.post_logout_redirect_uri.as_str());
        Some(url.into())
    }
}
