// Apollo Client's persisted-query link against a FleetQL gateway, run by
// tests/test_persisted_queries_apollo.py: node apq.mjs <graphql url> <token> <documents JSON>.
// Each document is queried in turn (never from Apollo's cache), hashed GETs first as
// `useGETForHashedQueries` sends them; prints one JSON line: for each query, the requests it
// took ("GET hash", "POST document", ...), its data, its error codes and the documents sent.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token, documentsJson] = process.argv.slice(2);
let sent = [];
const documents = new Set();

async function countingFetch(input, init = {}) {
  const method = init.method ?? "GET";
  const query = method === "GET"
    ? new URL(input).searchParams.get("query")
    : JSON.parse(init.body).query;
  if (query) documents.add(query);
  sent.push(`${method} ${query ? "document" : "hash"}`);
  return fetch(input, init);
}

function codesOf(error) {
  if (!error) return [];
  let errors = error.errors;
  if (!errors && error.bodyText) errors = JSON.parse(error.bodyText).errors;
  return (errors ?? [{ extensions: { code: `client: ${error.message}` } }]).map(
    (e) => e.extensions?.code,
  );
}

const link = new PersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: true,
}).concat(
  new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, fetch: countingFetch }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const results = [];
for (const document of JSON.parse(documentsJson)) {
  sent = [];
  let data = null;
  let codes;
  try {
    const result = await client.query({
      query: gql(document),
      fetchPolicy: "no-cache",
      errorPolicy: "all",
    });
    data = result.data ?? null;
    codes = codesOf(result.error);
  } catch (error) {
    codes = codesOf(error);
  }
  results.push({ sent, data, codes });
}
console.log(JSON.stringify({ results, documents: [...documents] }));
