import { z } from 'zod';

export const closeSchema = z.strictObject({});
export type CloseConfig = z.infer<typeof closeSchema>;
