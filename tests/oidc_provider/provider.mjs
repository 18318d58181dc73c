// A real OpenID Connect provider for keydrop's console tests: the npm package oidc-provider
// (v9) with its development login and consent pages (plain HTML forms, no JavaScript needed).
// Started by tests/api/browser/console_sso.rs on loopback; `.ci/run` installs the package.
//
// PORT, REDIRECT_URI, CLIENT_SECRET and ACCOUNTS (JSON: e-mail -> groups) come from the
// environment. Any password signs a known e-mail in; the e-mail is verified.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const accounts = JSON.parse(process.env.ACCOUNTS);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'keydrop-console',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, name: id, groups: accounts[id] };
      },
    };
  },
  cookies: { keys: ['keydrop-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready on ${port}`);
});
