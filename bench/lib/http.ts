/** A GraphQL POST from the bench, with its status and parsed body. */
export interface GraphQLAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  errors?: any[];
}

/** POSTs one GraphQL operation; `token` goes in `Authorization: Bearer`. */
export async function graphql(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string | undefined } = {},
): Promise<GraphQLAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, ...(options.variables ? { variables: options.variables } : {}) }),
  });
  const text = await response.text();
  let body: { data?: unknown; errors?: unknown[] } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: status says enough
  }
  return { status: response.status, ...(body.data !== undefined ? { data: body.data } : {}), ...(body.errors ? { errors: body.errors } : {}) };
}
