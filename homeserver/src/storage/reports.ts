export interface EventReport {
  roomId: string;
  eventId: string;
  reporter: string;
  reason: string | null;
  score: number | null;
}

export async function insertEventReport(db: D1Database, report: EventReport): Promise<void> {
  await db
    .prepare("INSERT INTO event_reports (room_id, event_id, reporter, reason, score, received_ts) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(report.roomId, report.eventId, report.reporter, report.reason, report.score, Date.now())
    .run();
}

export async function insertRoomReport(db: D1Database, report: { roomId: string; reporter: string; reason: string }): Promise<void> {
  await db
    .prepare("INSERT INTO room_reports (room_id, reporter, reason, received_ts) VALUES (?, ?, ?, ?)")
    .bind(report.roomId, report.reporter, report.reason, Date.now())
    .run();
}
