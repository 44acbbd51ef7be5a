import { describe, expect, it } from "vitest";
import type { ChatInfo, MatrixMessage, NetworkApi } from "../network";
import { canEdit, canReact, canRedact, canType } from "../network";
import { type PortalKey, type RemoteMessageId, remoteMessageId } from "../ids";

const base: NetworkApi = {
  getChatInfo: async (): Promise<ChatInfo> => ({ name: "chat" }),
  handleMatrixMessage: async (_key: PortalKey, _message: MatrixMessage) => ({ messageId: remoteMessageId("1") }),
};

describe("optional network capabilities", () => {
  it("a plain NetworkApi has none", () => {
    expect([canEdit(base), canReact(base), canRedact(base), canType(base)]).toEqual([false, false, false, false]);
  });

  it("each capability is detected by its method", () => {
    const editing = { ...base, handleMatrixEdit: async (_k: PortalKey, _t: RemoteMessageId, _m: MatrixMessage) => undefined };
    const typing = { ...base, handleMatrixTyping: async (_k: PortalKey, _typing: boolean) => undefined };
    expect([canEdit(editing), canReact(editing), canType(editing)]).toEqual([true, false, false]);
    expect([canEdit(typing), canType(typing)]).toEqual([false, true]);
  });
});
