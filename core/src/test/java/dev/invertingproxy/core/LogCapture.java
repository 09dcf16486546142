package dev.invertingproxy.core;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Collects what a logger prints (the library logs through {@code System.Logger}, which is
 * java.util.logging here), for tests that read the log.
 */
final class LogCapture extends Handler implements AutoCloseable {
  final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Logger logger;
  private final Level previous;

  LogCapture(Class<?> owner) {
    this(owner.getName());
  }

  LogCapture(String name) {
    logger = Logger.getLogger(name);
    previous = logger.getLevel();
    logger.setLevel(Level.ALL);
    setLevel(Level.ALL);
    logger.addHandler(this);
  }

  /** The messages logged at {@code level} exactly, in order. */
  List<String> at(Level level) {
    return records.stream()
        .filter(r -> r.getLevel().equals(level))
        .map(LogRecord::getMessage)
        .collect(Collectors.toList());
  }

  @Override
  public void publish(LogRecord record) {
    records.add(record);
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
    logger.setLevel(previous);
  }
}
