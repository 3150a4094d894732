import { z } from 'zod';

export const malformedSchema = z.strictObject({
  kind: z.enum(['json_syntax', 'garbage', 'wrong_content_type', 'encoding']).default('json_syntax'),
});
export type MalformedConfig = z.infer<typeof malformedSchema>;
