export { type Config, configSchema } from './config/schema.js';
