// The API key: kept in sessionStorage (this tab only), sent as x-api-key on fetches and as ?api_key= on
// WebSockets (a browser cannot set headers on those). A change is announced so sockets reconnect with it.
const STORE = "rtgateway.apiKey";

export function apiKey() {
  return sessionStorage.getItem(STORE) || "";
}

export function keyHeaders() {
  const key = apiKey();
  return key ? { "x-api-key": key } : {};
}

export function setupKeyForm(form, input) {
  input.value = apiKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(STORE, input.value.trim());
    window.dispatchEvent(new Event("keychange"));
  });
}
