// FleetQL's GraphiQL start-up. Its settings come from the page's JSON element
// (#fleetql-graphiql-settings), so the page needs no inline script and its
// Content-Security-Policy can allow scripts from the gateway only.
(function () {
  "use strict";

  var settings = JSON.parse(
    document.getElementById("fleetql-graphiql-settings").textContent,
  );
  // ?q=…&variables=… share an editor's content by link; headers never go into the URL.
  var parameters = new URLSearchParams(window.location.search);

  function updateURL(key, value) {
    if (value) {
      parameters.set(key, value);
    } else {
      parameters.delete(key);
    }
    var search = parameters.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  // GraphiQL's history ("graphiql:queries") records each run's headers whatever
  // shouldPersistHeaders says, and the headers hold a bearer token. This storage is GraphiQL's
  // default (localStorage, GraphiQL's keys only), except that it blanks every "headers" it
  // is asked to write.
  // Each path's page keeps its own keys (settings.storage prefixes them; "" at /graphql).
  var PREFIX = "graphiql:";
  var NAMESPACE = settings.storage || "";
  var WITHOUT_HEADERS = [PREFIX + "queries", PREFIX + "tabState"];
  var storage = {
    getItem: function (key) {
      var value = localStorage.getItem(NAMESPACE + key);
      if (key !== PREFIX + "queries" || !value) {
        return value;
      }
      // An entry from an earlier visit, picked from the history, runs with this page's headers.
      return JSON.stringify(JSON.parse(value), function (name, item) {
        return name === "headers" && item === null ? settings.headers : item;
      });
    },
    removeItem: function (key) {
      localStorage.removeItem(NAMESPACE + key);
    },
    setItem: function (key, value) {
      if (key === PREFIX + "headers") {
        return;
      }
      if (WITHOUT_HEADERS.indexOf(key) >= 0) {
        value = JSON.stringify(JSON.parse(value), function (name, item) {
          return name === "headers" ? null : item;
        });
      }
      localStorage.setItem(NAMESPACE + key, value);
    },
    get length() {
      return Object.keys(localStorage).filter(isPageKey).length;
    },
    clear: function () {
      Object.keys(localStorage)
        .filter(isPageKey)
        .forEach(function (key) {
          localStorage.removeItem(key);
        });
    },
  };

  function isPageKey(key) {
    return key.indexOf(NAMESPACE + PREFIX) === 0;
  }

  // Queries and mutations go over HTTP; subscriptions over a WebSocket to the same host and
  // path (graphql-transport-ws, graphql-ws's client), its connection_init payload carrying the
  // Authorization GraphiQL sends over HTTP. The client connects on its first subscription
  // only, so one fetcher is kept per Authorization value: a changed token opens a new socket.
  var httpURL = window.location.origin + window.location.pathname;
  var socketURL =
    (window.location.protocol === "https:" ? "wss://" : "ws://") +
    window.location.host +
    window.location.pathname;
  var fetchers = {};

  function authorizationOf(headers) {
    var names = Object.keys(headers || {}).filter(function (name) {
      return name.toLowerCase() === "authorization";
    });
    return names.length ? String(headers[names[0]]) : "";
  }

  function fetcher(parameters, options) {
    var authorization = authorizationOf(options && options.headers);
    if (!Object.prototype.hasOwnProperty.call(fetchers, authorization)) {
      fetchers[authorization] = GraphiQL.createFetcher({
        url: httpURL,
        wsClient: graphqlWs.createClient({
          url: socketURL,
          connectionParams: authorization ? { Authorization: authorization } : {},
        }),
      });
    }
    return fetchers[authorization](parameters, options);
  }
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function FleetQLGraphiQL() {
    var query = React.useState(parameters.get("q") || settings.query);
    var variables = React.useState(parameters.get("variables") || undefined);
    var headers = React.useState(settings.headers || undefined);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query[0],
      variables: variables[0],
      headers: headers[0],
      onEditQuery: function (value) {
        query[1](value);
        updateURL("q", value);
      },
      onEditVariables: function (value) {
        variables[1](value);
        updateURL("variables", value);
      },
      onEditHeaders: headers[1],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
      storage: storage,
      // The headers editor holds a bearer token: never write it to localStorage.
      shouldPersistHeaders: false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(FleetQLGraphiQL),
  );
})();
