// The example front-end: sign in, show the user, list / search / page / edit customers through the BFF, sign out;
// "Your sessions" (every device; end one; sign out everywhere); every tab follows a sign-out at once.
// Everything it knows about authentication is in ./bff.ts; it never sees a token.
import {
  api, BffProblem, endSession, ErpError, login, logout, session, sessions, signOutEverywhere, watchSession,
} from './bff';
import { containsFilter, query } from './odata';

type Customer = { Id: string; Number?: string; Name?: string; City?: string };
type Page = {
  value: Customer[];
  '@odata.nextLink'?: string;
  '@odata.count'?: number;
  '@emulator.user'?: string; // the local ERP.net emulator names the user it answered for
};

const CUSTOMERS = 'domain/odata/Crm_Sales_Customers';
const PAGE_SIZE = 10;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const table = $<HTMLTableElement>('customers-table');
const rows = $<HTMLTableSectionElement>('customers');
const search = $<HTMLInputElement>('search');
const next = $<HTMLButtonElement>('next-page');
const first = $<HTMLButtonElement>('first-page');
const owner = $('data-owner');
const editForm = $<HTMLFormElement>('edit-form');
const editName = $<HTMLInputElement>('edit-name');
const editError = $('edit-error');

// ---- view state: kept in the URL (?q=…&skip=…), so a reload, the back button, or a new sign-in after the session
// expired all come back to the same page of the same search.

type View = { q: string; skip: number };

function readView(): View {
  const p = new URLSearchParams(location.search);
  const skip = Number.parseInt(p.get('skip') ?? '0', 10);
  return { q: p.get('q') ?? '', skip: Number.isFinite(skip) && skip > 0 ? skip : 0 };
}

function viewUrl(v: View): string {
  const p = new URLSearchParams(location.search);
  if (v.q) p.set('q', v.q);
  else p.delete('q');
  if (v.skip) p.set('skip', String(v.skip));
  else p.delete('skip');
  const qs = p.toString();
  return location.pathname + (qs ? '?' + qs : '') + location.hash;
}

function listPath(v: View): string {
  return (
    CUSTOMERS +
    query({
      $select: 'Id,Number,Name,City',
      $filter: containsFilter('Name', v.q),
      $orderby: 'Number',
      $count: 'true',
      $top: PAGE_SIZE,
      $skip: v.skip || undefined,
    })
  );
}

// ---- banners

function showError(e: unknown): void {
  let text: string;
  let signIn = false;
  if (e instanceof BffProblem) {
    text = `${e.title}${e.detail ? ' ' + e.detail : ''} (${e.code}, HTTP ${e.status})`;
    if (e.needsSignIn) {
      text = `Your session has ended (${e.code}). Sign in again to continue where you were.`;
      signIn = true;
    }
  } else if (e instanceof ErpError) {
    text = `ERP.net answered HTTP ${e.status}${e.code ? ' ' + e.code : ''}: ${e.message}`;
  } else {
    text = e instanceof Error ? e.message : String(e);
  }
  $('error-text').textContent = text;
  $('error-signin').hidden = !signIn;
  $('error').hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
}

function notify(text: string): void {
  $('notice-text').textContent = text;
  $('notice').hidden = false;
}

function clearNotice(): void {
  $('notice').hidden = true;
}

// ---- customers

let nextLink: string | undefined;
let loadSeq = 0;

function render(page: Page, view: View): void {
  rows.replaceChildren(
    ...page.value.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.id = c.Id;
      tr.dataset.number = c.Number ?? '';
      tr.insertCell().textContent = c.Number ?? '';
      const name = tr.insertCell();
      name.className = 'name';
      name.textContent = c.Name ?? '';
      tr.insertCell().textContent = c.City ?? '';
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.className = 'edit secondary';
      edit.textContent = 'Edit';
      edit.setAttribute('aria-label', `Edit ${c.Number ?? 'customer'}`);
      tr.insertCell().append(edit);
      return tr;
    }),
  );
  $('empty').hidden = page.value.length > 0;
  nextLink = page['@odata.nextLink'];
  next.hidden = !nextLink;
  first.hidden = view.skip === 0;
  const total = page['@odata.count'];
  $('page-info').textContent = page.value.length
    ? `Rows ${view.skip + 1}–${view.skip + page.value.length}${total !== undefined ? ` of ${total}` : ''}`
    : '';
  const user = page['@emulator.user'];
  owner.hidden = !user;
  owner.dataset.user = user ?? '';
  owner.textContent = user ? `Data returned for ERP.net user “${user}”` : '';
}

/** Loads one page; `push` records the view in the browser history once it has loaded. */
async function load(path: string, view: View, push: boolean): Promise<void> {
  const seq = ++loadSeq;
  table.setAttribute('aria-busy', 'true');
  table.dataset.state = 'loading';
  next.disabled = first.disabled = true;
  try {
    const page = await api<Page>(path);
    if (seq !== loadSeq) return; // a newer load took over
    render(page, view);
    if (push) history.pushState(null, '', viewUrl(view));
    table.dataset.state = 'ready';
  } catch (e) {
    if (seq !== loadSeq) return;
    // Never leave rows on screen that do not belong to what was asked for.
    rows.replaceChildren();
    nextLink = undefined;
    next.hidden = first.hidden = true;
    $('page-info').textContent = '';
    table.dataset.state = 'error';
    showError(e);
  } finally {
    if (seq === loadSeq) {
      table.setAttribute('aria-busy', 'false');
      next.disabled = first.disabled = false;
    }
  }
}

function skipOf(link: string): number {
  const skip = Number.parseInt(new URL(link, location.origin).searchParams.get('$skip') ?? '0', 10);
  return Number.isFinite(skip) ? skip : 0;
}

// ---- editing a name (PATCH); ERP.net's own errors (e.g. a business rule) are shown in the form

let editing: { id: string; row: HTMLTableRowElement } | undefined;

function openEditor(row: HTMLTableRowElement): void {
  editing = { id: row.dataset.id ?? '', row };
  $('edit-number').textContent = row.dataset.number ?? '';
  editName.value = row.querySelector('.name')?.textContent ?? '';
  editError.hidden = true;
  clearNotice();
  editForm.hidden = false;
  editName.focus();
  editName.select();
}

function closeEditor(): void {
  editing = undefined;
  editForm.hidden = true;
  editError.hidden = true;
}

async function saveEdit(): Promise<void> {
  if (!editing) return;
  const { id, row } = editing;
  const name = editName.value.trim();
  const save = $<HTMLButtonElement>('edit-save');
  save.disabled = true;
  editError.hidden = true;
  try {
    await api(`${CUSTOMERS}(${id})`, { method: 'PATCH', json: { Name: name } });
    const cell = row.querySelector('.name');
    if (cell) cell.textContent = name;
    notify(`Saved ${row.dataset.number ?? 'the customer'}: “${name}”.`);
    closeEditor();
  } catch (e) {
    if (e instanceof ErpError) {
      editError.textContent = `ERP.net refused the change: ${e.message}`;
      editError.hidden = false;
    } else {
      showError(e);
    }
  } finally {
    save.disabled = false;
  }
}

// ---- your sessions

async function loadSessions(): Promise<void> {
  const list = $('session-list');
  try {
    const all = await sessions();
    list.replaceChildren(
      ...all.map((s) => {
        const li = document.createElement('li');
        li.dataset.id = s.id;
        li.dataset.current = String(s.current);
        const device = document.createElement('strong');
        device.textContent = s.device;
        const when = document.createElement('span');
        when.className = 'when';
        when.textContent = `signed in ${new Date(s.createdAt).toLocaleString()}, last seen ${new Date(s.lastSeenAt).toLocaleString()}`;
        li.append(device, when);
        if (s.current) {
          li.append(Object.assign(document.createElement('em'), { textContent: 'this browser' }));
        } else {
          const end = Object.assign(document.createElement('button'), { type: 'button', className: 'end secondary', textContent: 'End' });
          end.addEventListener('click', () => void endSession(s.id).then(loadSessions, showError));
          li.append(end);
        }
        return li;
      }),
    );
    list.dataset.state = 'ready';
  } catch (e) {
    showError(e);
  }
}

/** Another tab signed out (or the session ended): show signed-out at once, and none of the data. */
function showSignedOut(): void {
  closeEditor();
  rows.replaceChildren();
  $('session-list').replaceChildren();
  $('signed-in').hidden = true;
  $('anonymous').hidden = false;
  status.textContent = 'Signed out';
}

// ---- start

async function start(): Promise<void> {
  // The BFF's callback returns here with ?login_error=<code> when sign-in failed at the identity server.
  const params = new URLSearchParams(location.search);
  const loginError = params.get('login_error');
  if (loginError) {
    showError(`Sign-in failed: ${loginError}`);
    params.delete('login_error');
    const qs = params.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : '') + location.hash);
  }

  // A page restored from the back/forward cache must not show what it showed before a sign-out: start afresh.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) location.reload();
  });

  $('app-host').textContent = location.host;
  $('signin').addEventListener('click', () => login());
  $('error-signin').addEventListener('click', () => login());
  $('error-dismiss').addEventListener('click', clearError);

  try {
    const s = await session();
    // Every tab follows this browser's session: a sign-out elsewhere shows here at once; a new sign-in reloads.
    watchSession((change) => (change === 'signed-out' ? showSignedOut() : location.reload()));
    if (!s.authenticated) {
      status.textContent = 'Signed out';
      $('anonymous').hidden = false;
      return;
    }
    status.textContent = 'Signed in';
    $('user-name').textContent = String(s.user.name ?? s.user.sub ?? '');
    $('user-email').textContent = String(s.user.email ?? '');
    $('signout').addEventListener('click', () => logout(s.logoutUrl));
    $('signout-everywhere').addEventListener('click', () => void signOutEverywhere(s.logoutUrl).catch(showError));
    $('signed-in').hidden = false;
    void loadSessions();

    $('search-form').addEventListener('submit', (e) => {
      e.preventDefault();
      clearError();
      const view = { q: search.value.trim(), skip: 0 };
      void load(listPath(view), view, true);
    });
    $('search-clear').addEventListener('click', () => {
      search.value = '';
      const view = { q: '', skip: 0 };
      void load(listPath(view), view, true);
    });
    next.addEventListener('click', () => {
      if (!nextLink) return;
      // Paging follows the server's @odata.nextLink (the BFF has rewritten it to a same-origin /api/ path).
      void load(nextLink, { q: readView().q, skip: skipOf(nextLink) }, true);
    });
    first.addEventListener('click', () => {
      const view = { q: readView().q, skip: 0 };
      void load(listPath(view), view, true);
    });
    window.addEventListener('popstate', () => {
      const view = readView();
      search.value = view.q;
      void load(listPath(view), view, false);
    });
    rows.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest('button.edit');
      const row = button?.closest('tr');
      if (row) openEditor(row);
    });
    editForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void saveEdit();
    });
    $('edit-cancel').addEventListener('click', closeEditor);

    const view = readView();
    search.value = view.q;
    await load(listPath(view), view, false);
  } catch (e) {
    status.textContent = 'Error';
    showError(e);
  }
}

void start();
