/** The API's entry point (npm start, the Docker image): everything it does is in start.ts. */
import { startApi } from './start.js';

await startApi();
