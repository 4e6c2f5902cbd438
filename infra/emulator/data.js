// Deterministic test users and Domain API sample data for the ERP.net emulator.
import { createHash, randomUUID } from 'node:crypto';

import { config } from './state.js';

// Test users. `sub` is the login name (as in ERP.net): it changes when the user is renamed
// (POST /__emulator/users/<login>/rename), and a freed login can be taken by a new user (POST /__emulator/users).
// `id` is the stable user GUID, and the accountId of the emulator's sessions, grants and tokens.
const INITIAL_USERS = [
  {
    sub: 'demo',
    password: 'demo',
    id: '6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01',
    name: 'Demo User',
    email: 'demo@example.com',
    locale: 'en',
  },
  {
    sub: 'alice',
    password: 'alice',
    id: '0b7c3a52-9e4d-4f6a-8c21-5d3e7f9a2b02',
    name: 'Alice Example',
    email: 'alice@example.com',
    locale: 'en',
  },
  // Signed in only by the browser test of "Your sessions" (so it lists exactly that test's sessions).
  {
    sub: 'carol',
    password: 'carol',
    id: '3d9f1b77-2c4e-4a8b-9f10-6e2a5c7d8b03',
    name: 'Carol Example',
    email: 'carol@example.com',
    locale: 'en',
  },
];

// Live users: login (current `sub`) -> user, and id -> the same user object. Changed by the hooks
// below, restored by resetUsers() (POST /__emulator/reset), kept in EMULATOR_STATE_FILE (persist.js).
export const USERS = new Map();
export const USERS_BY_ID = new Map();

function putUsers(list) {
  USERS.clear();
  USERS_BY_ID.clear();
  for (const u of list) {
    const user = { ...u };
    USERS.set(user.sub, user);
    USERS_BY_ID.set(user.id, user);
  }
}
putUsers(INITIAL_USERS);

// The user of an accountId (the GUID), or undefined.
export function userById(id) {
  return typeof id === 'string' ? USERS_BY_ID.get(id) : undefined;
}

// The `sub` (current login) that tokens carry for an accountId; an unknown accountId stays as it is.
export function subjectOf(accountId) {
  return userById(accountId)?.sub ?? accountId;
}

// The accountId (GUID) of a login (the `?sub=` of the hooks); an unknown login stays as it is (it matches nothing).
export function accountIdOf(login) {
  return USERS.get(login)?.id ?? login;
}

export class UserError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function checkLogin(login, what) {
  if (typeof login !== 'string' || login === '') throw new UserError(400, `${what} query parameter is required`);
  if (login.length > 256) throw new UserError(400, `${what} must be at most 256 characters`);
}

// Rename: the user keeps its id, password, e-mail…, and signs in (and gets `sub`) as `to` from now on.
export function renameUser(login, to) {
  checkLogin(to, 'to');
  const user = USERS.get(login);
  if (!user) throw new UserError(404, `no user with login ${JSON.stringify(login)}`);
  if (USERS.has(to)) throw new UserError(409, `login ${JSON.stringify(to)} is taken`);
  USERS.delete(login);
  user.sub = to;
  USERS.set(to, user);
  return user;
}

// A new user with a fresh random id (e.g. a namesake on a login freed by a rename).
export function createUser(login, password = login) {
  checkLogin(login, 'login');
  if (USERS.has(login)) throw new UserError(409, `login ${JSON.stringify(login)} is taken`);
  let id = randomUUID();
  while (USERS_BY_ID.has(id)) id = randomUUID();
  const user = {
    sub: login, password, id, name: login, email: `${login}@example.com`, locale: 'en',
  };
  USERS.set(login, user);
  USERS_BY_ID.set(id, user);
  return user;
}

function sameUsers(list) {
  return list.length === USERS.size
    && list.every((u) => JSON.stringify(USERS.get(u.sub)) === JSON.stringify(u));
}

// Back to the users above (renames undone, created users gone). Returns the ids of the users that
// no longer exist (their sessions and grants are the caller's to end), or null when nothing changed.
export function resetUsers() {
  if (sameUsers(INITIAL_USERS)) return null;
  const kept = new Set(INITIAL_USERS.map((u) => u.id));
  const gone = [...USERS_BY_ID.keys()].filter((id) => !kept.has(id));
  putUsers(INITIAL_USERS);
  return gone;
}

// For the state file: every user as it is now, and back.
export function usersSnapshot() {
  return [...USERS.values()].map((u) => ({ ...u }));
}
export function restoreUsers(list) {
  putUsers(list);
}

// A fixed GUID derived from a seed string (stable across runs and machines).
export function fixedGuid(seed) {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const CUSTOMER_ROWS = [
  // [Name, City, Active, CreditLimit]
  ['Sofia a b Trading', 'Sofia', true, 50000],
  ['Nova a b Systems', 'Plovdiv', true, 25000],
  ['Terra b Construction', 'Varna', true, 120000],
  ['Alpha Beta Ltd', 'Sofia', true, 10000],
  ['Omega Bank', 'Burgas', true, 1000000],
  ['Delta Brothers', 'Ruse', false, 0],
  ['Santa Barbara Wines', 'Stara Zagora', true, 35000],
  ['Aurora Bakery', 'Pleven', true, 5000],
  ['Balkan Steel', 'Pernik', true, 250000],
  ['Rila Water', 'Samokov', true, 15000],
  ['Pirin Timber', 'Bansko', false, 0],
  ['Danube Shipping', 'Ruse', true, 400000],
  ['Black Sea Resorts', 'Varna', true, 80000],
  ['Thracian Gold', 'Plovdiv', true, 60000],
  ['Rose Valley Oils', 'Kazanlak', true, 45000],
  ['Vitosha Software', 'Sofia', true, 30000],
  ['Struma Logistics', 'Blagoevgrad', true, 70000],
  ['Maritsa Farms', 'Haskovo', false, 0],
  ['Yantra Textiles', 'Veliko Tarnovo', true, 20000],
  ['Iskar Energy', 'Sofia', true, 900000],
  ['Rhodope Dairy', 'Smolyan', true, 12000],
  ['Strandzha Honey', 'Malko Tarnovo', true, 3000],
  ['Dobrudzha Grain', 'Dobrich', true, 150000],
  ['Lom Port Services', 'Lom', false, 0],
  ['Shipka Motors', 'Gabrovo', true, 90000],
  ['Emine Fisheries', 'Nesebar', true, 8000],
  ['Kaliakra Wind', 'Kavarna', true, 300000],
  ['Belogradchik Stone', 'Vidin', true, 11000],
  ['Melnik Cellars', 'Sandanski', true, 22000],
  ['Osogovo Mining', 'Kyustendil', true, 500000],
  ['Tundzha Paper', 'Yambol', false, 0],
  ['Sredna Gora Tools', 'Koprivshtitsa', true, 9000],
  ['Ludogorie Feed', 'Razgrad', true, 14000],
  ['Sakar Solar', 'Topolovgrad', true, 210000],
  ['Zlatni Pyasatsi Hotels', 'Varna', true, 175000],
  ['Plana Cafe', 'Sofia', true, 1500],
];

// The `globex` instance's customers (EMULATOR_INSTANCE=globex): another company, so that a page of one instance
// is told from the other's at a glance (numbers G0001…, other names and cities).
const GLOBEX_CUSTOMER_ROWS = [
  ['Globex Hammock Supplies', 'Cypress Creek', true, 40000],
  ['Globex Volcano Works', 'Cypress Creek', true, 900000],
  ['Springfield Nuclear Parts', 'Springfield', true, 250000],
  ['Shelbyville Lemons', 'Shelbyville', true, 8000],
  ['Capital City Couriers', 'Capital City', true, 60000],
  ['Ogdenville Ice', 'Ogdenville', false, 0],
  ['North Haverbrook Rail', 'North Haverbrook', true, 120000],
  ['Brockway Bowling', 'Brockway', true, 5000],
  ['Cypress Creek Catering', 'Cypress Creek', true, 15000],
  ['Springfield Gorge Tours', 'Springfield', true, 22000],
  ['Globex Data Center', 'Cypress Creek', true, 300000],
  ['Waverly Hills Paper', 'Waverly Hills', false, 0],
];

// Per instance: the customers' rows, number prefix and the seed of their ids. `acme` is the default instance and
// keeps the original data (C0001…), which the tests rely on.
const CUSTOMERS_OF = {
  acme: { rows: CUSTOMER_ROWS, prefix: 'C', seed: 'Crm_Sales_Customers' },
  globex: { rows: GLOBEX_CUSTOMER_ROWS, prefix: 'G', seed: 'globex/Crm_Sales_Customers' },
};
const CUSTOMERS = CUSTOMERS_OF[config.instance] ?? CUSTOMERS_OF.acme;

const PRODUCT_ROWS = [
  // [PartNumber, Name, Active, UnitPrice]
  ['P-1001', 'Steel Bolt M8', true, 0.25],
  ['P-1002', 'Steel Nut M8', true, 0.1],
  ['P-1003', 'Washer 8 mm', true, 0.05],
  ['P-1004', 'Hex Key Set', true, 12.5],
  ['P-1005', 'Cordless Drill', true, 149.9],
  ['P-1006', 'Drill Bit Set', true, 24],
  ['P-1007', 'Safety Gloves', false, 3.2],
  ['P-1008', 'Work Boots', true, 59],
  ['P-1009', 'Measuring Tape 5 m', true, 7.8],
  ['P-1010', 'Spirit Level', true, 18.4],
  ['P-1011', 'Angle Grinder', true, 89],
  ['P-1012', 'Cutting Disc 125 mm', true, 1.9],
];

function buildCustomers() {
  return CUSTOMERS.rows.map(([Name, City, Active, CreditLimit], i) => ({
    Id: fixedGuid(`${CUSTOMERS.seed}/${i + 1}`),
    Number: `${CUSTOMERS.prefix}${String(i + 1).padStart(4, '0')}`,
    Name,
    Active,
    City,
    CreditLimit,
  }));
}

function buildProducts() {
  return PRODUCT_ROWS.map(([PartNumber, Name, Active, UnitPrice], i) => ({
    Id: fixedGuid(`General_Products_Products/${i + 1}`),
    PartNumber,
    Name,
    Active,
    UnitPrice,
  }));
}

// Entity set definitions: property name -> EDM type.
export const ENTITY_SETS = {
  Crm_Sales_Customers: {
    type: 'Crm.Sales.Customer',
    properties: {
      Id: 'Edm.Guid', Number: 'Edm.String', Name: 'Edm.String', Active: 'Edm.Boolean', City: 'Edm.String', CreditLimit: 'Edm.Decimal',
    },
    numberPrefix: CUSTOMERS.prefix,
    numberField: 'Number',
    build: buildCustomers,
  },
  General_Products_Products: {
    type: 'General.Products.Product',
    properties: {
      Id: 'Edm.Guid', PartNumber: 'Edm.String', Name: 'Edm.String', Active: 'Edm.Boolean', UnitPrice: 'Edm.Decimal',
    },
    numberPrefix: 'P-',
    numberField: 'PartNumber',
    build: buildProducts,
  },
};

// Live (mutable) data; restored by resetData().
export const DATA = {};
// Product pictures uploaded with PUT …/Picture: product id -> { contentType, bytes (Buffer) }.
// A product without an entry serves PICTURE_BYTES as image/png.
export const PICTURES = new Map();
export function resetData() {
  for (const [name, def] of Object.entries(ENTITY_SETS)) {
    DATA[name] = def.build();
  }
  PICTURES.clear();
}
resetData();

// Deterministic binary payload (all 256 byte values, PNG signature first) for binary pass-through tests.
export const PICTURE_BYTES = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
]);
