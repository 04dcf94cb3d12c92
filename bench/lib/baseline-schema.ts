/**
 * The schema of the bench's baselines (bench/plain-server.ts, bench/peer-server.ts): the query
 * shapes the project is measured on, `{ __typename }` and `{ me { id username } }`.
 */
export const BASELINE_TYPE_DEFS = /* GraphQL */ `
  type User {
    id: ID!
    username: String!
  }
  type Query {
    me: User
  }
`;
