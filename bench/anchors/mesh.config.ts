// Mesh Compose: the Packet device list and dashserv's product lists and status, each from an
// OpenAPI description of FleetQL's emulators (bench.anchors sets the environment).
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const env = process.env;

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Packet', {
        source: './packet.openapi.json',
        endpoint: env.ANCHOR_PACKET_URL,
        operationHeaders: { 'X-Auth-Token': env.ANCHOR_PACKET_TOKEN },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Dashserv', {
        source: './dashserv.openapi.json',
        endpoint: env.ANCHOR_DASHSERV_URL,
        operationHeaders: { Authorization: `Bearer ${env.ANCHOR_DASHSERV_TOKEN}` },
      }),
    },
  ],
  // S2's fan-out: one status call per listed product, as FleetQL's powerStatus makes.
  additionalTypeDefs: /* GraphQL */ `
    extend type DedicatedServer {
      powerStatus: StatusEnvelope
        @resolveTo(
          sourceName: "Dashserv"
          sourceTypeName: "Query"
          sourceFieldName: "dedicatedServerStatus"
          requiredSelectionSet: "{ uuid }"
          sourceArgs: { uuid: "{root.uuid}" }
        )
    }
    extend type Vserver {
      powerStatus: StatusEnvelope
        @resolveTo(
          sourceName: "Dashserv"
          sourceTypeName: "Query"
          sourceFieldName: "vserverStatus"
          requiredSelectionSet: "{ uuid }"
          sourceArgs: { uuid: "{root.uuid}" }
        )
    }
  `,
});
