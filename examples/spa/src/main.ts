import { api, BffProblem, login, logout, session } from './bff';

type Customer = { Number?: string; Name?: string; City?: string };
type Page = { value: Customer[]; '@odata.nextLink'?: string };

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const error = $('error');
const rows = $<HTMLTableSectionElement>('customers');
const next = $<HTMLButtonElement>('next-page');
let nextLink: string | undefined;

function showError(e: unknown): void {
  error.textContent =
    e instanceof BffProblem ? `${e.title} (${e.code}, ${e.status})${e.detail ? ': ' + e.detail : ''}` : String(e);
  error.hidden = false;
}

async function loadCustomers(path: string): Promise<void> {
  next.disabled = true;
  try {
    const page = await api<Page>(path);
    rows.replaceChildren(
      ...page.value.map((c) => {
        const tr = document.createElement('tr');
        for (const v of [c.Number, c.Name, c.City]) tr.insertCell().textContent = v ?? '';
        return tr;
      }),
    );
    nextLink = page['@odata.nextLink'];
  } catch (e) {
    showError(e);
  } finally {
    next.hidden = !nextLink;
    next.disabled = false;
  }
}

async function start(): Promise<void> {
  // The BFF's callback returns here with ?login_error=<code> when sign-in failed at the identity server.
  const params = new URLSearchParams(location.search);
  const loginError = params.get('login_error');
  if (loginError) {
    showError(`Sign-in failed: ${loginError}`);
    params.delete('login_error');
    const query = params.toString();
    history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
  }

  $('signin').addEventListener('click', () => login());
  next.addEventListener('click', () => nextLink && void loadCustomers(nextLink));

  try {
    const s = await session();
    if (!s.authenticated) {
      status.textContent = 'Signed out';
      $('anonymous').hidden = false;
      return;
    }
    status.textContent = 'Signed in';
    $('user-name').textContent = String(s.user.name ?? '');
    $('user-email').textContent = String(s.user.email ?? '');
    $('signout').addEventListener('click', () => logout(s.logoutUrl));
    $('signed-in').hidden = false;
    await loadCustomers('domain/odata/Crm_Sales_Customers?$top=10&$select=Number,Name,City');
  } catch (e) {
    status.textContent = 'Error';
    showError(e);
  }
}

void start();
