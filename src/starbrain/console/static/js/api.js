// REST and WebSocket access to the starbrain console API, with the optional bearer token.
// The token arrives once in the page URL (?token=...): it is kept in sessionStorage and removed
// from the address bar; the server also sets an HttpOnly cookie on that first load.

const TOKEN_KEY = "starbrain_token";

function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.toString());
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = takeToken();

function withParams(url, params = {}) {
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
  }
  return url;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON API path; throws ApiError with the server's one-sentence message. */
export async function api(path, params = {}) {
  const url = withParams(new URL(path, window.location.origin), params);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.message ?? `${response.status} ${response.statusText}`);
  }
  return body;
}

/** The /ws/live URL with the given query parameters (and the token). */
export function liveUrl(params = {}) {
  const url = new URL("/ws/live", window.location.origin);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return withParams(url, { ...params, token: token ?? undefined }).toString();
}
