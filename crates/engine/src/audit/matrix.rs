//! The identity x endpoint matrix: typed indexes instead of `i * endpoints + e` arithmetic.

use std::ops::{Index, IndexMut};

/// The index of a caller identity in the plan (a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityId(pub usize);

/// The index of an endpoint in the inventory (a column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub usize);

/// One cell: an identity probing an endpoint.
pub type CellId = (IdentityId, EndpointId);

/// A value per (identity, endpoint), stored row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix<T> {
    endpoints: usize,
    cells: Vec<T>,
}

impl<T> Matrix<T> {
    /// A matrix of `identities` rows and `endpoints` columns, each cell from `f`.
    pub fn from_fn(
        identities: usize,
        endpoints: usize,
        mut f: impl FnMut(IdentityId, EndpointId) -> T,
    ) -> Matrix<T> {
        let mut cells = Vec::with_capacity(identities * endpoints);
        for i in 0..identities {
            for e in 0..endpoints {
                cells.push(f(IdentityId(i), EndpointId(e)));
            }
        }
        Matrix { endpoints, cells }
    }

    pub fn identities(&self) -> usize {
        self.cells.len().checked_div(self.endpoints).unwrap_or(0)
    }

    pub fn endpoints(&self) -> usize {
        self.endpoints
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cell, or `None` outside the matrix.
    pub fn get(&self, i: IdentityId, e: EndpointId) -> Option<&T> {
        (e.0 < self.endpoints)
            .then(|| self.cells.get(i.0 * self.endpoints + e.0))
            .flatten()
    }

    /// Every cell, row by row.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.cells.iter()
    }

    /// Every cell id, row by row.
    pub fn ids(&self) -> impl Iterator<Item = CellId> + use<T> {
        let endpoints = self.endpoints;
        (0..self.identities())
            .flat_map(move |i| (0..endpoints).map(move |e| (IdentityId(i), EndpointId(e))))
    }

    /// The cells of one endpoint (a column), with their identity.
    pub fn column(&self, e: EndpointId) -> impl Iterator<Item = (IdentityId, &T)> {
        (0..self.identities()).map(move |i| (IdentityId(i), &self[(IdentityId(i), e)]))
    }
}

impl<T> Default for Matrix<T> {
    fn default() -> Matrix<T> {
        Matrix {
            endpoints: 0,
            cells: Vec::new(),
        }
    }
}

impl<T> Index<CellId> for Matrix<T> {
    type Output = T;
    fn index(&self, (i, e): CellId) -> &T {
        assert!(e.0 < self.endpoints, "endpoint {} outside the matrix", e.0);
        &self.cells[i.0 * self.endpoints + e.0]
    }
}

impl<T> IndexMut<CellId> for Matrix<T> {
    fn index_mut(&mut self, (i, e): CellId) -> &mut T {
        assert!(e.0 < self.endpoints, "endpoint {} outside the matrix", e.0);
        &mut self.cells[i.0 * self.endpoints + e.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_with_typed_indexes() {
        let m = Matrix::from_fn(2, 3, |i, e| i.0 * 10 + e.0);
        assert_eq!((m.identities(), m.endpoints(), m.len()), (2, 3, 6));
        assert_eq!(m[(IdentityId(1), EndpointId(2))], 12);
        assert_eq!(m.get(IdentityId(0), EndpointId(3)), None);
        assert_eq!(m.get(IdentityId(2), EndpointId(0)), None);
        let ids: Vec<_> = m.ids().map(|(i, e)| (i.0, e.0)).collect();
        assert_eq!(ids, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        let col: Vec<_> = m.column(EndpointId(1)).map(|(_, v)| *v).collect();
        assert_eq!(col, [1, 11]);
        let empty: Matrix<u8> = Matrix::from_fn(0, 0, |_, _| 0);
        assert_eq!((empty.identities(), empty.ids().count()), (0, 0));
    }
}
